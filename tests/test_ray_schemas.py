"""Every compiled serveConfigV2 is accepted by Ray's own validators.

``ServeDeploySchema`` for the whole config, ``AutoscalingConfig`` for each
autoscaling block (the schema alone misses min > max) and Ray Serve LLM's
``LLMConfig`` for each LLM config — Ray 2.56.0, the version of the images.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings

from stackdef.compile import compile_stack
from stackdef.deep import validate_rayservice, validate_serve_config
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.pipeline import build
from stackdef.resolve import resolve
from stackdef.versions import RAY_VERSION
from tests.strategies import valid_stacks
from tests.util import BLUEPRINTS, spec


def rayservices(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "RayService"]


def test_ray_under_test_is_the_image_version() -> None:
    import ray

    assert ray.__version__ == RAY_VERSION


def test_blueprints_serve_configs_are_valid() -> None:
    seen = 0
    for path in BLUEPRINTS.values():
        for doc in rayservices(build(path).compiled.objects()):
            assert validate_rayservice(doc) == []
            seen += 1
    assert seen == 3  # kind: sentiment; eks: chat + sentiment


def test_each_source_form_passes_llmconfig() -> None:
    for source in ("Qwen/Qwen2.5-7B-Instruct", "s3://models-bucket/qwen", "gs://my-bucket/q", "pvc://weights/qwen"):
        d = spec()
        d["services"][0]["source"] = source
        d["services"][0]["engine"].update(tensor_parallel_size=2, extra={"enable_prefix_caching": True})
        d["services"][0]["accelerator"]["gpus_per_replica"] = 2
        (chat, _) = rayservices(compile_stack(resolve(validate_stack(d))).objects())
        assert validate_rayservice(chat) == [], source


def test_validator_catches_what_compile_must_never_emit() -> None:
    d = spec()
    (chat, model) = rayservices(compile_stack(resolve(validate_stack(d))).objects())
    cfg = yaml.safe_load(chat["spec"]["serveConfigV2"])
    cfg["applications"][0]["args"]["llm_configs"][0]["deployment_config"]["autoscaling_config"]["min_replicas"] = 9
    assert any("min_replicas" in e for e in validate_serve_config(cfg))
    cfg = yaml.safe_load(model["spec"]["serveConfigV2"])
    cfg["applications"][0]["deployments"][0]["ray_actor_options"]["num_cpus"] = -1
    assert validate_serve_config(cfg) != []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=valid_stacks())
def test_generated_stacks_serve_configs_are_valid(data: dict[str, Any]) -> None:
    try:
        resolved = resolve(validate_stack(data))
    except SpecError:
        assume(False)  # e.g. the model does not fit the drawn GPU: covered in test_properties
        return
    for doc in rayservices(compile_stack(resolved).objects()):
        assert validate_rayservice(doc) == []


def test_deep_validation_maps_ray_errors_to_the_service() -> None:
    from stackdef.deep import deep_issues

    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    assert deep_issues(objs, {"chat": 0, "sentiment": 1}) == []
    chat = next(o for o in objs if o["kind"] == "RayService" and o["metadata"]["name"] == "chat")
    cfg = yaml.safe_load(chat["spec"]["serveConfigV2"])
    cfg["applications"][0]["args"]["llm_configs"][0]["deployment_config"]["autoscaling_config"]["max_replicas"] = -1
    broken = dict(chat, spec=dict(chat["spec"], serveConfigV2=yaml.safe_dump(cfg)))
    problems = deep_issues([broken], {"chat": 0})
    assert problems and all(path == "services[0]" for path, _ in problems)
    assert any("Ray rejects the compiled serveConfigV2" in text and "max_replicas" in text for _, text in problems)


def test_validate_deep_cli(monkeypatch) -> None:
    from typer.testing import CliRunner

    import stackdef.deep
    from stackdef.cli import app

    ok = CliRunner().invoke(app, ["validate", BLUEPRINTS["reference-eks"], "--deep"])
    assert ok.exit_code == 0 and "Ray 2.56.0 validators passed" in ok.stdout
    monkeypatch.setattr(stackdef.deep, "ray_available", lambda: False)
    missing = CliRunner().invoke(app, ["validate", BLUEPRINTS["reference-eks"], "--deep"])
    assert missing.exit_code == 2
    assert "--deep needs Ray's validators: pip install 'stackdef[ray]'" in missing.output

"""Spec validation: every problem is reported once, at its field, with a fix."""

from __future__ import annotations

import pytest

from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.spec import Stack
from tests.util import spec


def errors(data: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        validate_stack(data, "s.yaml")
    return exc.value.lines()


def test_base_spec_is_valid() -> None:
    stack = validate_stack(spec())
    assert stack.name == "demo"
    assert [s.type for s in stack.services] == ["llm", "model"]


def test_min_above_max_names_the_field_and_the_fix() -> None:
    d = spec()
    d["services"][0]["autoscaling"] = {"min_replicas": 5, "max_replicas": 2}
    assert errors(d) == [
        "s.yaml: services[0].autoscaling: min_replicas 5 > max_replicas 2 (set max_replicas ≥ 5, or lower min_replicas)"
    ]


def test_unknown_field_suggests_the_close_name() -> None:
    d = spec()
    d["services"][0]["autoscaling"]["max_replica"] = 3
    (line,) = errors(d)
    assert line.startswith("s.yaml: services[0].autoscaling.max_replica: unknown field 'max_replica'")
    assert "did you mean 'max_replicas'?" in line


def test_gpus_must_equal_parallelism() -> None:
    d = spec()
    d["services"][0]["engine"]["tensor_parallel_size"] = 2
    (line,) = errors(d)
    assert "services[0]: accelerator.gpus_per_replica is 1 but tensor_parallel_size × pipeline_parallel_size is 2" in line
    assert "(set gpus_per_replica to 2" in line


def test_unknown_accelerator_lists_ray_names() -> None:
    d = spec()
    d["services"][0]["accelerator"]["type"] = "RTX4090"
    (line,) = errors(d)
    assert line.startswith("s.yaml: services[0].accelerator.type: input should be")
    assert "'L4'" in line and "'auto'" in line and "got 'RTX4090'" in line


def test_several_problems_are_all_reported() -> None:
    d = spec()
    d["services"][0]["engine"]["gpu_memory_utilization"] = 1.5
    d["services"][1]["import_path"] = "not a path"
    d["name"] = "Bad_Name"
    lines = errors(d)
    assert len(lines) == 3
    assert [line.split(": ")[1] for line in lines] == [
        "name",
        "services[0].engine.gpu_memory_utilization",
        "services[1].import_path",
    ]


def test_duplicate_service_names() -> None:
    d = spec()
    d["services"][1]["name"] = "chat"
    assert errors(d) == [
        "s.yaml: services[1].name: name 'chat' is already used by services[0] (give each service its own name)"
    ]


def test_secret_reference_must_resolve() -> None:
    d = spec(secrets=[])
    (line,) = errors(d)
    assert line.startswith("s.yaml: services[0].hf_token.secret: secret 'hf-token' is not declared")
    d = spec(secrets=[{"name": "hf-token", "keys": ["other"]}])
    (line,) = errors(d)
    assert "services[0].hf_token.key: secret 'hf-token' declares no key 'token'" in line


def test_gpu_not_offered_on_cloud() -> None:
    d = spec(target={"type": "gke", "region": "us-central1"})
    d["services"][0]["accelerator"]["type"] = "A10G"
    (line,) = errors(d)
    assert line.startswith("s.yaml: services[0].accelerator.type: GPU A10G is not offered on gke (choose one of")


def test_unknown_target_type_names_the_valid_ones() -> None:
    (line,) = errors(spec(target={"type": "nomad"}))
    assert line.startswith("s.yaml: target: input tag 'nomad'")
    assert "'kind', 'existing', 'eks', 'gke', 'aks'" in line


def test_latest_tag_is_rejected() -> None:
    d = spec()
    d["services"][1]["image"] = "myorg/app:latest"
    (line,) = errors(d)
    assert "services[1].image: image 'myorg/app:latest' uses the floating tag 'latest' (pin a version tag or a digest)" in line
    d["services"][1]["image"] = "myorg/app"
    assert "has no tag" in errors(d)[0]


def test_engine_extra_cannot_override_typed_or_reserved_fields() -> None:
    d = spec()
    d["services"][0]["engine"]["extra"] = {"max_model_len": 4}
    assert "is a typed field (set engine.max_model_len" in errors(d)[0]
    d["services"][0]["engine"]["extra"] = {"model": "x"}
    assert "'model' is set by stackdef" in errors(d)[0]


def test_missing_required_field() -> None:
    d = spec()
    del d["services"][0]["source"]
    assert errors(d) == ["s.yaml: services[0].source: required field is missing (add it)"]


def test_model_sources() -> None:
    for good in ("Qwen/Qwen2.5-7B-Instruct", "s3://bucket/models/q", "gs://my-bucket/p", "pvc://weights/qwen"):
        d = spec()
        d["services"][0]["source"] = good
        validate_stack(d)
    d = spec()
    for bad in ("ftp://x", "s3://b/p", "gs://UPPER/p", "no-slash"):
        d["services"][0]["source"] = bad
        assert "is not a Hugging Face id, s3://, gs:// or pvc:// path" in errors(d)[0], bad


def test_python_api_builds_the_same_stack_as_yaml() -> None:
    from_dict = validate_stack(spec())
    assert Stack.model_validate(from_dict.model_dump(by_alias=True)) == from_dict


def test_json_schema_has_descriptions_everywhere() -> None:
    schema = Stack.model_json_schema(by_alias=True)
    missing = []

    def walk(node: dict, where: str) -> None:
        for name, prop in node.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{where}.{name}")
    walk(schema, "Stack")
    for name, sub in schema.get("$defs", {}).items():
        walk(sub, name)
    assert missing == []

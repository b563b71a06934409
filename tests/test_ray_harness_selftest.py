"""Self-tests of the Ray tooling: stackdef/deep.py (deep validation) and tests/ray_harness.py.

(a) ``validate_serve_config`` / ``validate_rayservice`` against Ray 2.56.0's models,
    including the holes in ServeDeploySchema that the extra layers close;
(b) a real local Ray Serve (marker ``ray_serve``) running examples/echo_model via
    ``runtime_env.working_dir``, answered over HTTP and then fully torn down.

Nothing here skips: a missing ``ray`` is an error, not a skip.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import yaml

from stackdef.deep import validate_rayservice, validate_serve_config
from tests.ray_harness import HarnessError, ServeHarness, http_request, marked_pids

REPO = Path(__file__).resolve().parent.parent

ECHO_APP = {
    "name": "echo",
    "route_prefix": "/echo",
    "import_path": "app:app",
    "runtime_env": {"working_dir": "https://example.com/echo_model.zip", "env_vars": {"ECHO_MODEL_ID": "echo-test"}},
    "deployments": [
        {
            "name": "SentimentModel",
            "autoscaling_config": {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 2},
            "ray_actor_options": {"num_cpus": 0.5},
            "user_config": {"neutral_band": 0.0, "version": "7"},
        }
    ],
}
LLM_APP = {  # REFERENCES.md §1 shape
    "name": "llms",
    "route_prefix": "/v1",
    "import_path": "ray.serve.llm:build_openai_app",
    "args": {
        "llm_configs": [
            {
                "model_loading_config": {"model_id": "qwen2.5-0.5b", "model_source": "Qwen/Qwen2.5-0.5B-Instruct"},
                "engine_kwargs": {"dtype": "bfloat16", "max_model_len": 1024, "device": "auto", "gpu_memory_utilization": 0.75},
                "deployment_config": {
                    "autoscaling_config": {
                        "min_replicas": 1,
                        "max_replicas": 4,
                        "target_ongoing_requests": 64,
                        "upscale_delay_s": 30,
                        "downscale_delay_s": 600,
                    },
                    "max_ongoing_requests": 128,
                },
                "accelerator_type": "L4",
                "runtime_env": {"env_vars": {"VLLM_USE_RAY_V2_EXECUTOR_BACKEND": "1"}},
            }
        ]
    },
}
VALID = {"applications": [ECHO_APP, LLM_APP]}


def cfg() -> dict:
    return copy.deepcopy(VALID)


def llm0(c: dict) -> dict:
    return c["applications"][1]["args"]["llm_configs"][0]


def one(errors: list[str], *needles: str) -> str:
    hits = [e for e in errors if all(n in e for n in needles)]
    assert hits, f"no error containing {needles}: {errors}"
    return hits[0]


@pytest.fixture
def no_network(monkeypatch):
    """Validation must not open sockets (no HF download, no cluster)."""

    def deny(*a, **k):
        raise AssertionError(f"network access attempted: {a}")

    monkeypatch.setattr(socket.socket, "connect", deny)
    monkeypatch.setattr(socket, "create_connection", deny)


# --------------------------------------------------------------------------- (a) validator


def test_valid_config_accepted(no_network):
    assert validate_serve_config(cfg()) == []
    assert importlib.util.find_spec("vllm") is None, "vllm must not be installed in the main env"
    assert "vllm" not in sys.modules and "transformers" not in sys.modules


def test_min_gt_max_missed_by_schema_caught_by_autoscalingconfig():
    from ray.serve.config import AutoscalingConfig
    from ray.serve.schema import ServeDeploySchema

    c = cfg()
    c["applications"][0]["deployments"][0]["autoscaling_config"].update(min_replicas=5, max_replicas=2)
    llm0(c)["deployment_config"]["autoscaling_config"].update(min_replicas=9)
    ServeDeploySchema.model_validate(c)  # the hole: a plain dict passes unchecked
    with pytest.raises(ValueError, match="min_replicas"):
        AutoscalingConfig.model_validate(c["applications"][0]["deployments"][0]["autoscaling_config"])
    errors = validate_serve_config(c)
    one(errors, "applications[0](echo).deployments[0](SentimentModel).autoscaling_config", "min_replicas (5)", "[AutoscalingConfig]")
    one(
        errors,
        "applications[1](llms).args.llm_configs[0](qwen2.5-0.5b).deployment_config.autoscaling_config",
        "min_replicas (9)",
        "[AutoscalingConfig]",
    )
    assert len(errors) == 2, errors


def test_unknown_top_level_field_rejected_though_ray_ignores_it():
    from ray.serve.schema import ServeDeploySchema

    c = cfg()
    c["aplications_typo"] = []
    ServeDeploySchema.model_validate(c)  # forward-compatible: extra keys ignored
    one(validate_serve_config(c), "<root>.aplications_typo", "unknown field", "[strict]")


def test_unknown_autoscaling_key_rejected():
    c = cfg()
    c["applications"][0]["deployments"][0]["autoscaling_config"]["max_replica"] = 9
    one(validate_serve_config(c), "autoscaling_config.max_replica", "[strict]")


def test_llm_bad_accelerator_type_rejected_offline(no_network):
    from ray.llm._internal.serve.core.configs.llm_config import LLMConfig

    c = cfg()
    llm0(c)["accelerator_type"] = "H9000"
    with pytest.raises(ValueError, match="Unsupported accelerator type"):
        LLMConfig.model_validate(llm0(c))
    one(validate_serve_config(c), "llm_configs[0](qwen2.5-0.5b).accelerator_type", "H9000", "[LLMConfig]")


def test_llm_bad_fields_rejected(no_network):
    c = cfg()
    llm0(c)["engine_kwarg"] = {}  # typo: LLMConfig forbids extra fields
    llm0(c)["deployment_config"]["max_ongoing"] = 3  # not a serve.deployment() option
    llm0(c)["server_cls"] = "not a class path"  # never imported, form checked only
    errors = validate_serve_config(c)
    one(errors, "llm_configs[0](qwen2.5-0.5b).engine_kwarg", "unknown field", "[LLMConfig]")
    one(errors, "deployment_config.max_ongoing", "serve.deployment()")
    one(errors, "server_cls", "module:Class")
    assert len(errors) == 3, errors


def test_llm_serving_args_rules():
    c = cfg()
    llms = c["applications"][1]["args"]["llm_configs"]
    llms.append(copy.deepcopy(llms[0]))
    one(validate_serve_config(c), "duplicate model_id", "qwen2.5-0.5b", "[LLMServingArgs]")
    c = cfg()
    c["applications"][1]["args"]["llm_config"] = []
    one(validate_serve_config(c), "args.llm_config", "[LLMServingArgs]")


def test_runtime_env_and_working_dir_rules():
    c = cfg()
    c["applications"][0]["runtime_env"]["env_vars"]["N"] = 1  # YAML int
    one(validate_serve_config(c), "applications[0](echo).runtime_env", "Dict[str, str]", "[runtime_env]")
    c = cfg()
    c["applications"][0]["runtime_env"]["working_dir"] = "examples/echo_model"
    one(validate_serve_config(c), "applications[0](echo).runtime_env", "only remote URIs", "[ServeDeploySchema]")
    assert validate_serve_config(c, allow_local_working_dir=True) == []


def _rayservice(serve_cfg: dict, env: list | None = None) -> dict:
    container = {"name": "ray-head", "image": "rayproject/ray-llm:2.56.0-py312-cu130", "env": env or []}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "demo"},
        "spec": {
            "serveConfigV2": yaml.safe_dump(serve_cfg, sort_keys=False),
            "rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"containers": [container]}}}},
        },
    }


def test_validate_rayservice():
    assert validate_rayservice(_rayservice(cfg())) == []
    bad = cfg()
    bad["applications"][0]["deployments"][0]["autoscaling_config"]["min_replicas"] = 7
    one(validate_rayservice(_rayservice(bad)), "RayService/demo serveConfigV2: applications[0](echo)", "[AutoscalingConfig]")
    doc = _rayservice(cfg())
    doc["spec"]["serveConfigV2"] = "applications: [\n"
    one(validate_rayservice(doc), "RayService/demo serveConfigV2:", "invalid YAML")
    doc["spec"]["serveConfigV2"] = cfg()  # a mapping instead of the YAML string
    one(validate_rayservice(doc), "YAML string")
    # direct streaming (env on the Ray containers) allows exactly one LLM config
    two = cfg()
    llms = two["applications"][1]["args"]["llm_configs"]
    llms.append(copy.deepcopy(llms[0]))
    llms[1]["model_loading_config"]["model_id"] = "other"
    env = [{"name": "RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING", "value": "1"}]
    assert validate_rayservice(_rayservice(two)) == []
    one(validate_rayservice(_rayservice(two, env)), "exactly one", "[LLMServingArgs]")


# --------------------------------------------------------------------------- (b) real Ray Serve


def _echo_local_config() -> dict:
    app = copy.deepcopy(ECHO_APP)
    app["runtime_env"]["working_dir"] = "examples/echo_model"  # local dir, relative to the repo root
    return {"applications": [app]}


@pytest.mark.ray_serve
def test_harness_runs_echo_model_from_working_dir(record_property):
    config = _echo_local_config()
    assert validate_serve_config(config, allow_local_working_dir=True) == []
    t0 = time.monotonic()
    with ServeHarness(config, timeout=180, base_dir=REPO) as h:
        assert h.url and h.url.startswith("http://127.0.0.1:")
        status, body = http_request(f"{h.url}/echo", {"text": "I love this, it is great"})
        first_response_s = time.monotonic() - t0
        assert status == 200, body
        assert body == {"label": "positive", "score": 1.0, "model": "echo-test", "version": "7"}
        status, body = http_request(f"{h.url}/echo", {"text": "this isn't good, it's awful"})
        assert (status, body["label"], body["score"]) == (200, "negative", -1.0)
        assert http_request(f"{h.url}/echo", {"txt": 1})[0] == 422
        assert http_request(f"{h.url}/echo/healthz") == (200, {"status": "ok", "model": "echo-test", "version": "7"})
        assert len(h.pids()) >= 4  # runner, gcs, raylet, workers...
        runner_pid, marker, temp_dir = h.proc.pid, h.marker, h.temp_dir
    assert h.leftover_pids == []
    assert marked_pids(marker) == []
    with pytest.raises(ProcessLookupError):
        os.kill(runner_pid, 0)
    assert not temp_dir.exists()
    record_property("startup_s", round(h.startup_s, 1))
    record_property("first_response_s", round(first_response_s, 1))
    record_property("peak_rss_mb", h.peak_rss_bytes // 2**20)
    record_property("peak_pss_mb", h.peak_pss_bytes // 2**20)
    print(
        f"\n[ray_serve] ready {h.startup_s:.1f}s, first response {first_response_s:.1f}s, "
        f"shutdown {h.shutdown_s:.1f}s, peak RSS {h.peak_rss_bytes / 2**20:.0f} MiB "
        f"(PSS {h.peak_pss_bytes / 2**20:.0f} MiB) over {h.peak_nprocs} processes"
    )


@pytest.mark.ray_serve
def test_harness_reports_failed_deploy_and_cleans_up():
    config = _echo_local_config()
    config["applications"][0]["import_path"] = "app:no_such_app"
    h = ServeHarness(config, timeout=180, base_dir=REPO)
    with pytest.raises(HarnessError, match="DEPLOY_FAILED") as excinfo:
        h.start()
    assert "no_such_app" in str(excinfo.value)  # the app's error message is surfaced
    assert h.leftover_pids == [] and marked_pids(h.marker) == []
    assert not h.temp_dir.exists()

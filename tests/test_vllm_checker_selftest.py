"""Self-tests for tests/tools/vllm_check.py: vLLM 0.22.0's own parser and
``create_engine_config`` must accept good engine args and reject bad ones
(the checker must not be a rubber stamp).

The checker runs in the separate vLLM venv; point ``STACKDEF_VLLM_PYTHON`` at
its python (``make install-test`` does, or
``export STACKDEF_VLLM_PYTHON=$(bash .ci/setup-vllm-venv.sh)``). Without it
these tests FAIL, by design: a missing venv must not turn into a green run.

All cases go to the checker in ONE subprocess (importing vllm costs ~9 s).
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.vllm

from tests.vllm_client import CONFIGS, model_config, run_checker

Q05 = "Qwen2.5-0.5B-Instruct"
Q7 = "Qwen2.5-7B-Instruct"

CASES = [
    {"id": "q05_ok", "model": Q05, "engine_kwargs": {"dtype": "bfloat16", "max_model_len": 4096}},
    {"id": "q05_too_long", "model": Q05, "engine_kwargs": {"max_model_len": 65536}},
    {"id": "q05_at_limit", "model": Q05, "engine_kwargs": {"max_model_len": 32768}},
    {"id": "q7_tp8", "model": Q7, "engine_kwargs": {"tensor_parallel_size": 8}},
    {"id": "q7_tp4", "model": Q7, "engine_kwargs": {"tensor_parallel_size": 4}},
    {"id": "q7_tp4_pp2", "model": Q7, "engine_kwargs": {"tensor_parallel_size": 4, "pipeline_parallel_size": 2}},
    {"id": "unknown_ray", "model": Q05, "engine_kwargs": {"bogus_kwarg": 1}},
    {"id": "unknown_plain", "model": Q05, "engine_kwargs": {"bogus_kwarg": 1}, "ray_serve": False},
    {"id": "removed_swap_space", "model": Q05, "engine_kwargs": {"swap_space": 4}},
    {"id": "bad_dtype", "model": Q05, "engine_kwargs": {"dtype": "bf16"}},
    {"id": "bad_gmu", "model": Q05, "engine_kwargs": {"gpu_memory_utilization": 1.5}},
    {"id": "ray_mp_backend", "model": Q05, "engine_kwargs": {"distributed_executor_backend": "mp"}},
    {"id": "ray_frontend_kw", "model": Q05,
     "engine_kwargs": {"enable_auto_tool_choice": True, "tool_call_parser": "hermes"}},
    {"id": "cli_ok", "model": Q05,
     "cli_args": ["--dtype", "bfloat16", "--max-model-len", "2048", "--max-num-seqs", "8"]},
    {"id": "cli_unknown_flag", "model": Q05, "cli_args": ["--dtype", "bfloat16", "--no-such-flag", "2"]},
    {"id": "cli_tp8", "model": Q7, "cli_args": ["--tensor-parallel-size", "8"]},
    {"id": "cli_too_long", "model": Q05, "cli_args": ["--max-model-len", "65536"]},
    {"id": "cli_model_tag", "model": Q05, "cli_args": ["Qwen/Qwen2.5-0.5B-Instruct", "-tp", "2"]},
    {"id": "bad_case_shape", "model": Q05},  # neither engine_kwargs nor cli_args
]
SHIPPED = sorted(p.name for p in CONFIGS.iterdir() if (p / "config.json").is_file())
CASES += [{"id": f"shipped:{name}", "model": name, "engine_kwargs": {"max_model_len": 2048}}
          for name in SHIPPED]


@pytest.fixture(scope="module")
def checked() -> dict:
    return run_checker(CASES)


def result(checked: dict, cid: str) -> dict:
    return checked["by_id"][cid]


def assert_ok(r: dict) -> dict:
    assert r["ok"], f"{r['id']} rejected at {r['stage']}: {r['error']}"
    assert r["error"] is None and r["stage"] == "ok"
    return r["resolved"]


def assert_rejected(r: dict, stage: str, *needles: str) -> None:
    assert not r["ok"], f"{r['id']} was accepted: {r['resolved']}"
    assert r["resolved"] is None
    assert r["stage"] == stage, f"{r['id']}: stage {r['stage']}: {r['error']}"
    for needle in needles:
        assert needle in r["error"], f"{r['id']}: {needle!r} not in {r['error']!r}"


def test_versions(checked):
    assert checked["vllm_version"] == "0.22.0"
    assert checked["torch_version"].startswith("2.13.0")
    assert [r["id"] for r in checked["results"]] == [c["id"] for c in CASES]


def test_accepts_plain_engine_kwargs(checked):
    res = assert_ok(result(checked, "q05_ok"))
    assert res["max_model_len"] == 4096
    assert res["dtype"] == "bfloat16"
    assert res["tensor_parallel_size"] == 1
    assert res["pipeline_parallel_size"] == 1
    assert res["quantization"] is None
    # vLLM 0.22.0 default (CacheConfig.gpu_memory_utilization), NOT the 0.9 of older releases
    assert res["gpu_memory_utilization"] == pytest.approx(0.92)
    assert res["distributed_executor_backend"] == "ray"  # what Ray Serve LLM sets


def test_max_model_len_bounded_by_max_position_embeddings(checked):
    assert_rejected(result(checked, "q05_too_long"), "create_engine_config",
                    "User-specified max_model_len (65536) is greater than the derived max_model_len",
                    "max_position_embeddings=32768")
    assert assert_ok(result(checked, "q05_at_limit"))["max_model_len"] == 32768
    assert_rejected(result(checked, "cli_too_long"), "create_engine_config", "max_model_len (65536)")


def test_tensor_parallel_must_divide_attention_heads(checked):
    # Qwen2.5-7B has 28 attention heads: 8 does not divide 28, 4 does.
    msg = "Total number of attention heads (28) must be divisible by tensor parallel size (8)"
    assert_rejected(result(checked, "q7_tp8"), "create_engine_config", msg)
    assert_rejected(result(checked, "cli_tp8"), "create_engine_config", msg)
    res = assert_ok(result(checked, "q7_tp4"))
    assert res["tensor_parallel_size"] == 4 and res["world_size"] == 4
    res = assert_ok(result(checked, "q7_tp4_pp2"))
    assert (res["tensor_parallel_size"], res["pipeline_parallel_size"], res["world_size"]) == (4, 2, 8)


def test_unknown_kwargs_rejected(checked):
    # Ray Serve LLM 2.56 rejects keys that are not vLLM AsyncEngineArgs/FrontendArgs fields ...
    assert_rejected(result(checked, "unknown_ray"), "ray_serve", "Unknown engine argument: bogus_kwarg")
    # ... and vLLM's own dataclass rejects them when passed straight through.
    assert_rejected(result(checked, "unknown_plain"), "engine_args",
                    "unexpected keyword argument 'bogus_kwarg'")
    # swap_space no longer exists in vLLM 0.22.0.
    assert_rejected(result(checked, "removed_swap_space"), "ray_serve", "swap_space")


def test_bad_values_rejected_by_vllm(checked):
    assert_rejected(result(checked, "bad_dtype"), "create_engine_config", "dtype", "bf16")
    assert_rejected(result(checked, "bad_gmu"), "create_engine_config", "gpu_memory_utilization")


def test_ray_serve_rules(checked):
    assert_rejected(result(checked, "ray_mp_backend"), "ray_serve", "distributed_executor_backend")
    res = assert_ok(result(checked, "ray_frontend_kw"))
    assert res["frontend_kwargs"] == ["enable_auto_tool_choice", "tool_call_parser"]


def test_cli_args_through_vllm_serve_parser(checked):
    res = assert_ok(result(checked, "cli_ok"))
    assert (res["dtype"], res["max_model_len"], res["max_num_seqs"]) == ("bfloat16", 2048, 8)
    assert_rejected(result(checked, "cli_unknown_flag"), "parse", "unrecognized arguments", "--no-such-flag")
    res = assert_ok(result(checked, "cli_model_tag"))
    assert res["tensor_parallel_size"] == 2


def test_malformed_case_reported_not_fatal(checked):
    assert_rejected(result(checked, "bad_case_shape"), "input", "engine_kwargs")


def test_every_shipped_model_config_accepted(checked):
    assert len(SHIPPED) >= 7
    for name in SHIPPED:
        res = assert_ok(result(checked, f"shipped:{name}"))
        cfg = model_config(name)
        assert res["architecture"] == cfg["architectures"][0]
        assert res["max_position_embeddings"] == cfg["max_position_embeddings"]
        assert res["num_attention_heads"] == cfg["num_attention_heads"]
        assert res["dtype"] == "bfloat16"  # from torch_dtype

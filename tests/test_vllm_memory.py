"""KV capacity and max concurrency agree with vLLM 0.22's own KV-cache sizing code.

stackdef's memory model says how much memory each GPU leaves for the KV cache; given exactly
that memory, vLLM's ``get_kv_cache_configs`` and ``get_max_concurrency_for_kv_cache_config``
(run in the vLLM checker venv by tests/tools/vllm_kv.py, with the model's real config.json,
block size 16 as on CUDA) must find the same number of blocks, tokens and concurrency that
``stackdef plan`` reports — and refuse to start exactly where stackdef says vLLM will not.
"""

from __future__ import annotations

import pytest

from stackdef.catalog.models import catalog
from stackdef.sizing import Workload, fit
from tests.vllm_client import KV_TOOL, run_checker

pytestmark = pytest.mark.vllm

# (model, GPU, tensor, pipeline, max_model_len, kv_cache_dtype, gpu_memory_utilization)
GRID = [
    (model, gpu, tp, pp, ctx, kv, util)
    for model in sorted(catalog())
    for gpu, tp, pp in [("L4", 1, 1), ("H100", 1, 1), ("L4", 2, 1), ("H100", 4, 1), ("A100-80G", 2, 2), ("H100", 8, 1), ("L4", 1, 4), ("H100", 2, 4)]
    for ctx in (4096, 32768)
    for kv in (None, "fp8")
    for util in (0.9,)
    if catalog()[model].attention_heads % tp == 0 and ctx <= catalog()[model].max_context
] + [
    # Where vLLM refuses: a context one request of which does not fit, and no memory at all.
    ("Llama-3.1-8B-Instruct", "L4", 1, 1, 65536, None, 0.9),
    ("Qwen2.5-7B-Instruct", "L4", 1, 1, 32768, None, 0.8),
    ("Llama-3.1-70B-Instruct", "H100", 2, 1, 4096, None, 0.9),
]


def _case(i: int, model: str, gpu: str, tp: int, pp: int, ctx: int, kv: str | None, util: float):
    work = Workload(catalog()[model], "bfloat16", None, ctx, None, util, kv_cache_dtype=kv)
    mem = fit(work, gpu, tp, pp)
    engine = {"max_model_len": ctx, "tensor_parallel_size": tp, "pipeline_parallel_size": pp, "dtype": "bfloat16",
              "distributed_executor_backend": "ray"}
    if kv:
        engine["kv_cache_dtype"] = kv
    available = [max(0, w.kv) for w in mem.workers]
    return mem, {"id": f"{i}", "model": model, "engine_kwargs": engine, "available_bytes": available, "block_size": 16}


def test_kv_blocks_tokens_and_concurrency_match_vllm() -> None:
    built = [_case(i, *row) for i, row in enumerate(GRID)]
    out = run_checker([c for _, c in built], tool=KV_TOOL)
    starts = refusals = 0
    for (mem, case), row in zip(built, GRID, strict=True):
        r = out["by_id"][case["id"]]
        where = f"{row}: stackdef {mem.blocks} blocks / {mem.problem!r}; vLLM {r}"
        if mem.fits:
            assert r["ok"], where
            assert r["num_blocks"] == mem.blocks, where
            assert r["tokens"] == mem.tokens, where
            assert r["max_concurrency"] == pytest.approx(mem.max_concurrency), where
            assert r["page_size_bytes"] == mem.page, where
            starts += 1
        else:
            # stackdef's refusals in vLLM's words: nothing left, or less than one request.
            assert not r["ok"], where
            assert ("No available memory for the cache blocks" in r["error"]) == (mem.blocks <= 0), where
            if mem.blocks > 0:
                assert f"To serve at least one request with the model's max seq len ({row[4]})" in r["error"], where
            refusals += 1
    assert starts > 50 and refusals >= 3, (starts, refusals)

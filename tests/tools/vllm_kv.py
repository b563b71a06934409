#!/usr/bin/env python3
"""KV-cache capacity from vLLM's OWN KV-cache planner, given the KV memory per worker.

Runs INSIDE the dedicated vLLM venv (vllm==0.22.0 on a CPU-only torch), like
``vllm_check.py`` next to it (same platform forcing, same env defaults)::

    $VENV/bin/python tests/tools/vllm_kv.py < cases.json > results.json

stdin::

    {"cases": [
      {"id": "qwen7b-l4",
       "model_config": {<HF config.json>},
       "engine_kwargs": {"max_model_len": 8192, "kv_cache_dtype": "auto", ...},
       "available_bytes": 4466562008,      # KV memory of ONE worker, bytes
       "block_size": 16}                   # optional, default 16 (CUDA default)
    ]}

``available_bytes`` is what ``Worker.determine_available_memory`` would return
on each GPU (``requested - weights - activation peak - non-torch - CUDA-graph
estimate``, see stackdef/memory.py). It may also be a list with one
value per pipeline stage (stages hold different weights, so they have
different free memory); every TP rank of a stage gets that stage's value.

stdout (nothing else is ever written there)::

    {"vllm_version": "0.22.0", "placeholder_modules": [...],
     "import_seconds": 3.6, "total_seconds": 4.7, "results": [
      {"id": "qwen7b-l4", "ok": true, "error": null,
       "num_blocks": 4868, "tokens": 77888, "max_concurrency": 9.5078125,
       "page_size_bytes": 32768, "layers_in_stage": 28,
       # extras
       "logged_tokens": 77888, "max_model_len": 8192, "layers_per_stage": [28],
       "num_kv_heads": 4, "head_size": 128, "kv_dtype": "bfloat16",
       "kv_cache_dtype": "auto", "block_size": 16, "bytes_per_token_per_worker": 57344,
       "blocks_per_request": 512, "num_workers": 1, "seconds": 0.01}]}

* ``num_blocks``: ``KVCacheConfig.num_blocks`` that vLLM's
  ``get_kv_cache_configs`` returns (already the min over all workers, as the
  engine uses it).
* ``tokens``: ``num_blocks * block_size`` (token slots in the pool).
  ``logged_tokens`` is what vLLM itself logs as "GPU KV cache size: N tokens"
  (``int(max_concurrency * max_model_len)`` in ``_report_kv_cache_config``);
  it is smaller than ``tokens`` when max_model_len is not a multiple of the
  block size.
* ``max_concurrency``: vLLM's ``get_max_concurrency_for_kv_cache_config``
  (= num_blocks / ceil(max_model_len / block_size) for one full-attention
  group), the "Maximum concurrency for N tokens per request: X.XXx" figure.
* ``page_size_bytes``: ``FullAttentionSpec.page_size_bytes`` of ONE layer
  (``2 * block_size * num_kv_heads * head_size * dtype_size``).
* ``layers_in_stage``: attention layers on the largest pipeline stage (the
  one that bounds num_blocks); ``layers_per_stage`` lists all stages as
  ``get_pp_indices`` splits them.
* not enough memory: ``ok`` false and ``error`` is vLLM's own ValueError text
  from ``_check_enough_kv_cache_memory`` ("To serve at least one request with
  the model's max seq len (...)" or "No available memory for the cache
  blocks. ..."). ``error`` never holds a traceback (tracebacks of unexpected
  failures go to stderr).

What is run per case
--------------------
1. ``model_config`` is written as config.json into a temp dir and
   ``AsyncEngineArgs(model=dir, **engine_kwargs).create_engine_config(
   usage_context=UsageContext.OPENAI_API_SERVER)`` builds the real
   ``VllmConfig`` (engine_kwargs are passed verbatim: no Ray Serve rules,
   use vllm_check.py for those).
2. ``cache_config.block_size`` is set to the case's block_size (default 16).
   The CPU platform forces 128 in ``CpuPlatform.check_and_update_config``;
   on CUDA, ``CacheConfig.DEFAULT_BLOCK_SIZE`` is 16 and FlashAttention /
   FlashInfer / Triton attention keep 16 (``get_preferred_block_size``).
3. The per-worker KV cache spec is built the way the GPU model runner's
   ``get_kv_cache_spec`` gets it from each decoder ``Attention`` layer
   (vllm/model_executor/layers/attention/attention.py
   ``Attention.get_kv_cache_spec``, FullAttentionSpec branch) -- these are
   the only objects this tool constructs itself, because the model (and its
   Attention modules) cannot be instantiated for TP>1 without a process
   group per rank:
     * one ``vllm.v1.kv_cache_interface.FullAttentionSpec`` per layer of the
       stage, named ``model.layers.{i}.self_attn.attn`` (Qwen2/Llama prefix);
     * ``num_kv_heads = model_config.get_num_kv_heads(parallel_config)``
       (= ``max(1, total_kv_heads // tp)``, the same expression Qwen2Attention
       / LlamaAttention use; heads are replicated when tp > total_kv_heads);
     * ``head_size = head_size_v = model_config.get_head_size()``;
     * ``dtype = kv_cache_dtype_str_to_dtype(cache_config.cache_dtype,
       model_config)`` (auto -> model dtype; fp8* -> uint8, 1 byte);
       ``kv_quant_mode = get_kv_quant_mode(cache_config.cache_dtype)``;
     * the stage's layers are ``get_pp_indices(num_layers, pp_rank, pp)``
       (vllm/distributed/utils.py, honours VLLM_PP_LAYER_PARTITION).
   The list has one dict per worker, ordered like the executor's
   ``collective_rpc`` (rank = pp_rank * tp + tp_rank), i.e. what
   ``EngineCore._initialize_kv_caches`` receives.
4. vLLM's own ``get_kv_cache_configs(vllm_config, specs, available)`` runs
   (grouping, auto-fit of max_model_len=-1, the per-worker
   ``_check_enough_kv_cache_memory``, ``get_num_blocks``, the min over
   workers), then ``get_max_concurrency_for_kv_cache_config`` on the first
   worker's config. Nothing in those functions is patched or stubbed.

Refused (ok false, error "unsupported: ...") rather than answered wrongly:
models that are not a plain full-attention decoder (sliding window, per-layer
layer_types other than full_attention, MLA, hybrid / attention-free,
multimodal, encoder-decoder). ``decode_context_parallel_size`` /
``prefill_context_parallel_size`` > 1 are not refused: vLLM's own formulas
handle them (they divide max_model_len in
``FullAttentionSpec.max_memory_usage_bytes``). Quantized checkpoints only
change the KV dtype here if their config sets a KV-cache scheme that vLLM
resolves into ``cache_config.cache_dtype``.

What is constructed (everything else is vLLM's own code, unpatched)
--------------------------------------------------------------------
* the ``FullAttentionSpec`` objects of point 3 (real vLLM dataclasses, built
  with the values the Attention layer would pass);
* the per-worker lists ``kv_cache_specs`` / ``available_memory`` that the
  executor's ``collective_rpc`` would return;
* two placeholder modules, ``llguidance`` and ``xgrammar``, put in
  ``sys.modules`` ONLY if those libraries are not installed (the side venv of
  .ci/setup-vllm-venv.sh does not install them; top-level
  ``placeholder_modules`` in the output says which were used). Importing
  ``vllm.v1.core.kv_cache_utils`` imports ``vllm.v1.request`` ->
  ``vllm.v1.structured_output``, whose backend dataclasses use
  ``llguidance.LLMatcher`` / ``xgr.GrammarMatcher`` etc. as field annotations,
  evaluated at import time through vLLM's ``LazyLoader``. Each placeholder
  attribute is an empty class; no structured-output code is ever run here.
  Installing llguidance<1.8,>=1.7 and xgrammar (vLLM's own pins) in the venv
  makes the placeholders unnecessary and unused.

Environment and patching: exactly as vllm_check.py (points 1-3 of its
docstring): ``vllm.platforms.current_platform = CpuPlatform()``, plain ray
installed for ``distributed_executor_backend="ray"``, env defaults
VLLM_TARGET_DEVICE=cpu, HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1,
VLLM_NO_USAGE_STATS=1, DO_NOT_TRACK=1, VLLM_CACHE_ROOT=<venv>/vllm-cache;
VLLM_ALLOW_LONG_MAX_MODEL_LEN removed. Each case restores os.environ.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
import types
from typing import Any

# Run as a script, next to vllm_check.py (the same folder is on sys.path): one env setup, one batch protocol.
from vllm_check import _fmt, run_batch

# Imported (as annotations only) by vllm.v1.structured_output; see _import_vllm.
_STRUCTURED_OUTPUT_LIBS = ("llguidance", "xgrammar")


def _placeholder_module(name: str) -> types.ModuleType:
    """An importable stand-in for an uninstalled structured-output library.

    Every attribute is a fresh empty class named like the attribute; nothing
    else. See the docstring ("What is constructed"): vLLM only evaluates such
    attributes as dataclass field annotations while importing
    ``vllm.v1.structured_output``; no code path used here calls into them.
    """
    mod = types.ModuleType(name)
    mod.__dict__["__stackdef_placeholder__"] = True

    def __getattr__(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        cls = type(attr, (), {"__module__": name})
        setattr(mod, attr, cls)
        return cls

    mod.__dict__["__getattr__"] = __getattr__
    return mod


def _import_vllm() -> dict[str, Any]:
    # vllm.v1.core.kv_cache_utils -> vllm.v1.request -> vllm.v1.structured_output
    # imports the llguidance / xgrammar backends, whose dataclasses annotate
    # fields with `llguidance.LLMatcher`, `xgr.GrammarMatcher`, ... (evaluated at
    # import time through vLLM's LazyLoader). The side venv does not install
    # those libraries; placeholders are used only when they are missing.
    placeholders = []
    for name in _STRUCTURED_OUTPUT_LIBS:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = _placeholder_module(name)
            placeholders.append(name)

    from vllm import platforms
    from vllm.platforms.cpu import CpuPlatform

    platforms.current_platform = CpuPlatform()  # see vllm_check.py, point 1

    import vllm
    from vllm.distributed.utils import get_pp_indices
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.usage.usage_lib import UsageContext
    from vllm.utils.torch_utils import kv_cache_dtype_str_to_dtype
    from vllm.v1.core.kv_cache_utils import (
        get_kv_cache_configs,
        get_max_concurrency_for_kv_cache_config,
    )
    from vllm.v1.kv_cache_interface import FullAttentionSpec, get_kv_quant_mode

    return {
        "vllm_version": vllm.__version__,
        "placeholder_modules": placeholders,
        "AsyncEngineArgs": AsyncEngineArgs,
        "UsageContext": UsageContext,
        "get_pp_indices": get_pp_indices,
        "kv_cache_dtype_str_to_dtype": kv_cache_dtype_str_to_dtype,
        "get_kv_cache_configs": get_kv_cache_configs,
        "get_max_concurrency": get_max_concurrency_for_kv_cache_config,
        "FullAttentionSpec": FullAttentionSpec,
        "get_kv_quant_mode": get_kv_quant_mode,
    }


class CaseError(Exception):
    pass


def _check_plain_decoder(mc) -> None:
    """Refuse what a list of identical FullAttentionSpecs would get wrong."""
    if mc.use_mla:
        raise CaseError("unsupported: MLA attention (MLAAttentionSpec) is not modelled")
    if mc.is_hybrid or mc.is_attention_free:
        raise CaseError("unsupported: hybrid / attention-free model")
    if mc.is_multimodal_model or mc.is_encoder_decoder:
        raise CaseError("unsupported: multimodal or encoder-decoder model")
    if mc.get_sliding_window() is not None:
        raise CaseError(
            f"unsupported: sliding window {mc.get_sliding_window()} "
            "(SlidingWindowSpec) is not modelled"
        )
    layer_types = getattr(mc.hf_text_config, "layer_types", None)
    if layer_types and any(t != "full_attention" for t in layer_types):
        raise CaseError(
            "unsupported: layer_types other than full_attention: "
            f"{sorted(set(layer_types))}"
        )


def _available_per_stage(value: Any, pp: int) -> list[int]:
    if isinstance(value, bool):
        raise CaseError("available_bytes must be an integer or a list of integers")
    if isinstance(value, int):
        return [value] * pp
    if isinstance(value, list) and all(
        isinstance(x, int) and not isinstance(x, bool) for x in value
    ):
        if len(value) != pp:
            raise CaseError(
                f"available_bytes has {len(value)} values for "
                f"pipeline_parallel_size {pp}"
            )
        return list(value)
    raise CaseError("available_bytes must be an integer or a list of integers")


def _run_case(v: dict[str, Any], case: Any) -> dict[str, Any]:
    t0 = time.monotonic()
    cid = case.get("id") if isinstance(case, dict) else None
    out: dict[str, Any] = {
        "id": cid, "ok": False, "error": None, "num_blocks": None, "tokens": None,
        "max_concurrency": None, "page_size_bytes": None, "layers_in_stage": None,
    }
    env_snapshot = dict(os.environ)
    try:
        if not isinstance(case, dict) or not isinstance(cid, str):
            raise CaseError("case must be an object with a string 'id'")
        model_config = case.get("model_config")
        engine_kwargs = case.get("engine_kwargs", {})
        if not isinstance(model_config, dict):
            raise CaseError("model_config must be an object (config.json)")
        if not isinstance(engine_kwargs, dict) or "model" in engine_kwargs:
            raise CaseError("engine_kwargs must be an object without 'model'")
        block_size = case.get("block_size", 16)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size <= 0:
            raise CaseError("block_size must be a positive integer")
        if "available_bytes" not in case:
            raise CaseError("available_bytes is required")

        with tempfile.TemporaryDirectory(prefix="vllmkv-") as tmp:
            model_dir = os.path.join(tmp, "model")
            os.mkdir(model_dir)
            with open(os.path.join(model_dir, "config.json"), "w") as fh:
                json.dump(model_config, fh)
            try:
                engine_args = v["AsyncEngineArgs"](model=model_dir, **engine_kwargs)
                cfg = engine_args.create_engine_config(
                    usage_context=v["UsageContext"].OPENAI_API_SERVER
                )
            except Exception as exc:
                raise CaseError(_fmt(exc)) from None

        mc, pc, cc = cfg.model_config, cfg.parallel_config, cfg.cache_config
        _check_plain_decoder(mc)
        cc.block_size = block_size  # GPU block size; CpuPlatform forced 128

        tp, pp = pc.tensor_parallel_size, pc.pipeline_parallel_size
        available = _available_per_stage(case["available_bytes"], pp)
        num_kv_heads = mc.get_num_kv_heads(pc)
        head_size = mc.get_head_size()
        kv_dtype = v["kv_cache_dtype_str_to_dtype"](cc.cache_dtype, mc)
        spec = v["FullAttentionSpec"](
            block_size=block_size,
            num_kv_heads=num_kv_heads,
            head_size=head_size,
            head_size_v=head_size,
            dtype=kv_dtype,
            kv_quant_mode=v["get_kv_quant_mode"](cc.cache_dtype),
        )
        total_layers = mc.get_total_num_hidden_layers()
        stage_ranges = [v["get_pp_indices"](total_layers, r, pp) for r in range(pp)]
        specs: list[dict] = []
        worker_avail: list[int] = []
        for pp_rank, (start, end) in enumerate(stage_ranges):
            stage_spec = {
                f"model.layers.{i}.self_attn.attn": spec for i in range(start, end)
            }
            for _tp_rank in range(tp):
                specs.append(dict(stage_spec))
                worker_avail.append(available[pp_rank])

        try:
            configs = v["get_kv_cache_configs"](cfg, specs, worker_avail)
        except ValueError as exc:
            raise CaseError(str(exc)) from None
        kv0 = configs[0]
        max_conc = v["get_max_concurrency"](cfg, kv0)
        mml = mc.max_model_len
        layers = [end - start for start, end in stage_ranges]
        out.update(
            ok=True,
            num_blocks=kv0.num_blocks,
            tokens=kv0.num_blocks * block_size,
            max_concurrency=max_conc,
            page_size_bytes=spec.page_size_bytes,
            layers_in_stage=max(layers),
            logged_tokens=int(max_conc * mml),
            max_model_len=mml,
            layers_per_stage=layers,
            num_kv_heads=num_kv_heads,
            head_size=head_size,
            kv_dtype=str(kv_dtype).removeprefix("torch."),
            kv_cache_dtype=cc.cache_dtype,
            block_size=block_size,
            bytes_per_token_per_worker=spec.page_size_bytes // block_size * max(layers),
            blocks_per_request=-(-mml // block_size),
            num_workers=len(specs),
        )
    except CaseError as exc:
        out["error"] = str(exc)
    except BaseException as exc:  # noqa: BLE001 - one case never kills the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exc(file=sys.stderr)
        out["error"] = _fmt(exc)
    finally:
        os.environ.clear()
        os.environ.update(env_snapshot)
    out["seconds"] = round(time.monotonic() - t0, 4)
    return out


def main() -> int:
    return run_batch(_import_vllm, _run_case, lambda v: {"vllm_version": v["vllm_version"], "placeholder_modules": v["placeholder_modules"]})


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Check engine args against vLLM's OWN parser and ``create_engine_config``.

Runs INSIDE the dedicated vLLM venv built by ``.ci/setup-vllm-venv.sh``
(vllm==0.22.0, the version ``ray[llm]==2.56.0`` pins, on a CPU-only torch)::

    $VENV/bin/python tests/tools/vllm_check.py < cases.json > results.json

stdin::

    {"cases": [
      {"id": "a", "model_config": {<HF config.json>}, "engine_kwargs": {...},
       "ray_serve": true},                       # optional, default true
      {"id": "b", "model_config": {...}, "cli_args": ["--dtype", "bfloat16"]}
    ]}

stdout (nothing else is ever written there)::

    {"vllm_version": "0.22.0", "torch_version": "...", "platform": "cpu",
     "results": [{"id": "a", "ok": true, "error": null, "stage": "ok",
                  "seconds": 0.02, "resolved": {"max_model_len": ...,
                  "tensor_parallel_size": ..., "pipeline_parallel_size": ...,
                  "dtype": "bfloat16", "quantization": null,
                  "gpu_memory_utilization": 0.92, ...}}]}

``stage`` says where a case stopped: ``input`` (malformed case), ``ray_serve``
(a Ray Serve LLM rule, see below), ``parse`` (argparse rejected the CLI),
``engine_args`` (the ``AsyncEngineArgs`` dataclass / ``FrontendArgs`` rejected a
kwarg), ``create_engine_config``, ``verify_with_parallel_config`` or ``ok``.
One bad case never stops the run; the exit code is 0 unless stdin itself is
not valid JSON of that shape (then 2).

What is run per case
--------------------
* ``model_config`` is written as ``config.json`` into a fresh temp dir. No
  weights, no tokenizer, no generation_config: vLLM 0.22.0's
  ``create_engine_config`` reads only config.json (the tokenizer is first
  loaded when the engine starts, so ``skip_tokenizer_init`` is NOT forced);
  a missing generation_config.json is tolerated by vLLM.
* ``engine_kwargs`` (Ray Serve LLM path): the checker sets ``model`` to the
  temp dir and builds ``AsyncEngineArgs(model=dir, **engine_kwargs)``. With
  ``ray_serve`` true (default) it first does what ray 2.56.0 does with
  ``LLMConfig.engine_kwargs`` for a GPU deployment
  (``ray/llm/_internal/serve/engines/vllm/vllm_models.py``,
  ``VLLMEngineConfig.from_llm_config`` + ``get_initialization_kwargs``; that
  module itself cannot be imported without ray[serve]'s web stack, so the few
  rules are replicated here): every key must be a field of vLLM's
  ``FrontendArgs`` or ``AsyncEngineArgs`` dataclass, else
  "Unknown engine argument: <key>"; FrontendArgs keys are split off (and
  validated here with vLLM's pydantic ``FrontendArgs(**...)``); ``model`` /
  ``served_model_name`` are rejected; a ``distributed_executor_backend`` other
  than ``"ray"`` is rejected and it is set to ``"ray"``;
  ``enable_log_requests`` defaults to False. ``ray_serve: false`` skips all
  that and passes engine_kwargs verbatim, so an unknown key then fails in
  vLLM's own ``AsyncEngineArgs.__init__`` (TypeError).
* ``cli_args`` (plain ``vllm serve`` path): the real ``vllm serve`` parser is
  rebuilt exactly as ``vllm/entrypoints/cli/main.py`` +
  ``ServeSubcommand.subparser_init`` do it (a ``FlexibleArgumentParser`` with a
  ``serve`` subparser filled by
  ``vllm.entrypoints.openai.cli_args.make_arg_parser``, which adds
  ``FrontendArgs`` and ``AsyncEngineArgs.add_cli_args``); we only avoid
  importing ``vllm.entrypoints.cli.serve`` itself because it pulls the whole
  API server (fastapi, uvicorn, ...). ``["serve", <dir>, *cli_args]`` is parsed
  (a leading positional model tag or a ``--model`` value in cli_args is
  replaced by the temp dir), then ``validate_parsed_serve_args`` runs,
  ``args.model = args.model_tag`` as ``ServeSubcommand.cmd`` does, and
  ``AsyncEngineArgs.from_cli_args(args)`` builds the engine args, exactly as
  ``vllm.entrypoints.openai.api_server`` does.
* Both paths then call ``engine_args.create_engine_config(
  usage_context=UsageContext.OPENAI_API_SERVER)``.

Running it on a machine without GPUs: what is patched and why
--------------------------------------------------------------
1. Platform. The PyPI vllm wheel is a CUDA build; its platform detection finds
   no NVML device and (version string has no "cpu") no CPU build either, so
   ``current_platform`` would be ``UnspecifiedPlatform`` and
   ``create_engine_config`` dies with "Device string must not be empty".
   ``VLLM_TARGET_DEVICE=cpu`` does not help: in 0.22.0 it is only read by
   setup.py at build time. We therefore set
   ``vllm.platforms.current_platform = CpuPlatform()`` before anything else
   touches it -- the same thing ``vllm/entrypoints/cli/main.py`` does itself
   for ``vllm bench``. Consequence: CUDA-only checks that live in
   ``CudaPlatform`` (compute capability for a quantization/kv-cache dtype,
   attention backend choice, GPU count vs world size when no backend is set)
   are not exercised; CPU-side tweaks (block_size 128, async scheduling off)
   show in the config but are not part of ``resolved``.
2. Ray. ``distributed_executor_backend="ray"`` makes vLLM import ray during
   config creation (``ParallelConfig._verify_args`` ->
   ``ray_utils.assert_ray_available()``; ``VllmConfig.__post_init__`` ->
   ``Executor.get_class`` imports the Ray executor to ask
   ``supports_async_scheduling()``). So plain ``ray==2.56.0`` (no extras) is
   installed in the venv -- no stub. Ray is never initialised:
   ``is_ray_initialized()`` / ``is_in_ray_actor()`` are False, so no
   placement group is looked up.
3. Nothing else is patched or stubbed. ``vllm._C`` fails to load (CUDA build, no
   libcuda) and Triton is absent; vLLM logs that and carries on.

Tensor parallelism on CPU
-------------------------
On the CPU platform ``create_engine_config`` does NOT look at device counts,
so ``tensor_parallel_size`` 4 or 8 is judged on the arguments alone. The head
divisibility rule is enforced by vLLM inside ``create_engine_config``:
``VllmConfig.__post_init__`` -> ``ModelConfig.verify_with_parallel_config(
parallel_config)`` raises "Total number of attention heads (28) must be
divisible by tensor parallel size (8)." (reported as a pydantic
ValidationError for VllmConfig). After a successful ``create_engine_config``
the checker calls ``vllm_config.model_config.verify_with_parallel_config(
vllm_config.parallel_config)`` once more explicitly, so the rule is checked
even if a later vLLM moved or skipped that call; ``stage`` then says which of
the two rejected. The max_model_len rule (user value > the model's
max_position_embeddings -> "User-specified max_model_len (...) is greater than
the derived max_model_len ...") is vLLM's own, raised while building
``ModelConfig``; ``VLLM_ALLOW_LONG_MAX_MODEL_LEN`` is removed from the
environment so it cannot be bypassed.

Environment set here (unless already set): VLLM_TARGET_DEVICE=cpu,
HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1, VLLM_NO_USAGE_STATS=1,
DO_NOT_TRACK=1, VLLM_CACHE_ROOT=<venv>/vllm-cache (vLLM caches per-arch model
inspection results there; the first run of an architecture spawns a
subprocess and takes a few seconds longer). Each case runs with a snapshot of
os.environ restored afterwards (CpuPlatform writes LD_PRELOAD etc.).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any


def _setup_env() -> None:
    defaults = {
        "VLLM_TARGET_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_CACHE_ROOT": os.path.join(sys.prefix, "vllm-cache"),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Never let the max_model_len check be bypassed by the caller's env.
    os.environ.pop("VLLM_ALLOW_LONG_MAX_MODEL_LEN", None)


def _patch_vllm() -> dict[str, Any]:
    """Import vLLM and force the CPU platform."""
    from vllm import platforms
    from vllm.platforms.cpu import CpuPlatform

    platforms.current_platform = CpuPlatform()  # see docstring, point 1

    import dataclasses

    import torch
    import vllm
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.openai.cli_args import (
        FrontendArgs,
        make_arg_parser,
        validate_parsed_serve_args,
    )
    from vllm.usage.usage_lib import UsageContext
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    return {
        "vllm_version": vllm.__version__,
        "torch_version": torch.__version__,
        "AsyncEngineArgs": AsyncEngineArgs,
        "FrontendArgs": FrontendArgs,
        "make_arg_parser": make_arg_parser,
        "validate_parsed_serve_args": validate_parsed_serve_args,
        "UsageContext": UsageContext,
        "FlexibleArgumentParser": FlexibleArgumentParser,
        "engine_fields": {f.name for f in dataclasses.fields(AsyncEngineArgs)},
        "frontend_fields": {f.name for f in dataclasses.fields(FrontendArgs)},
    }


class CaseError(Exception):
    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage


def _fmt(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text


def _serve_parser(v: dict[str, Any]):
    """The `vllm serve` parser, built the way vllm/entrypoints/cli/main.py does."""
    parser = v["FlexibleArgumentParser"](prog="vllm", description="vLLM CLI")
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    serve_parser = subparsers.add_parser(
        "serve", usage="vllm serve [model_tag] [options]"
    )
    v["make_arg_parser"](serve_parser)
    return parser


def _cli_argv(cli_args: list[str], model_dir: str) -> list[str]:
    argv = [str(a) for a in cli_args]
    if argv and not argv[0].startswith("-"):
        argv = argv[1:]  # a positional model tag: replaced by our dir
    for i, arg in enumerate(argv):
        if arg == "--model" and i + 1 < len(argv):
            argv[i + 1] = model_dir
            return ["serve", *argv]
        if arg.startswith("--model="):
            argv[i] = f"--model={model_dir}"
            return ["serve", *argv]
    return ["serve", model_dir, *argv]


def _engine_args_from_cli(v, cli_args: list[str], model_dir: str):
    parser = _serve_parser(v)
    argv = _cli_argv(cli_args, model_dir)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        msg = lines[-1] if lines else f"argparse exited with {exc.code}"
        raise CaseError("parse", msg) from None
    except Exception as exc:  # FlexibleArgumentParser raises some itself
        raise CaseError("parse", _fmt(exc)) from None
    finally:
        sys.stderr.write(err.getvalue())
    try:
        v["validate_parsed_serve_args"](args)
    except Exception as exc:
        raise CaseError("parse", _fmt(exc)) from None
    if getattr(args, "model_tag", None) is not None:
        args.model = args.model_tag  # as ServeSubcommand.cmd does
    try:
        return v["AsyncEngineArgs"].from_cli_args(args), None
    except Exception as exc:
        raise CaseError("engine_args", _fmt(exc)) from None


def _engine_args_from_kwargs(v, engine_kwargs: dict, model_dir: str, ray_serve: bool):
    kwargs = dict(engine_kwargs)
    frontend: dict[str, Any] = {}
    if ray_serve:
        # Mirrors ray.llm VLLMEngineConfig.from_llm_config/get_initialization_kwargs
        if "model" in kwargs or "served_model_name" in kwargs:
            raise CaseError(
                "ray_serve",
                "model or served_model_name is not allowed in engine_kwargs when "
                "using Ray Serve LLM (use model_loading_config)",
            )
        for key in list(kwargs):
            if key in v["frontend_fields"]:
                frontend[key] = kwargs.pop(key)
            elif key not in v["engine_fields"]:
                raise CaseError("ray_serve", f"ValueError: Unknown engine argument: {key}")
        backend = kwargs.get("distributed_executor_backend", "ray")
        if backend != "ray":
            raise CaseError(
                "ray_serve",
                "distributed_executor_backend != 'ray' is not allowed in "
                f"engine_kwargs when using Ray Serve LLM (got {backend!r})",
            )
        kwargs["distributed_executor_backend"] = "ray"
        kwargs.setdefault("enable_log_requests", False)
    elif "model" in kwargs:
        raise CaseError("input", "engine_kwargs must not contain 'model'")
    try:
        if frontend:
            v["FrontendArgs"](**frontend)
        return v["AsyncEngineArgs"](model=model_dir, **kwargs), sorted(frontend)
    except Exception as exc:
        raise CaseError("engine_args", _fmt(exc)) from None


def _resolved(cfg, frontend_keys) -> dict[str, Any]:
    mc, pc, cc, sc = (
        cfg.model_config,
        cfg.parallel_config,
        cfg.cache_config,
        cfg.scheduler_config,
    )
    dtype = str(mc.dtype).removeprefix("torch.")
    return {
        "max_model_len": mc.max_model_len,
        "tensor_parallel_size": pc.tensor_parallel_size,
        "pipeline_parallel_size": pc.pipeline_parallel_size,
        "dtype": dtype,
        "quantization": mc.quantization,
        "gpu_memory_utilization": cc.gpu_memory_utilization,
        # extras, handy for asserting what a flag did
        "data_parallel_size": pc.data_parallel_size,
        "world_size": pc.world_size,
        "enable_expert_parallel": pc.enable_expert_parallel,
        "distributed_executor_backend": (
            pc.distributed_executor_backend
            if isinstance(pc.distributed_executor_backend, (str, type(None)))
            else repr(pc.distributed_executor_backend)
        ),
        "max_num_seqs": sc.max_num_seqs,
        "max_num_batched_tokens": sc.max_num_batched_tokens,
        "enable_prefix_caching": cc.enable_prefix_caching,
        "kv_cache_dtype": cc.cache_dtype,
        "enforce_eager": mc.enforce_eager,
        "served_model_name": mc.served_model_name,
        "architecture": mc.architecture,
        "max_position_embeddings": getattr(
            mc.hf_text_config, "max_position_embeddings", None
        ),
        "num_attention_heads": getattr(
            mc.hf_text_config, "num_attention_heads", None
        ),
        "frontend_kwargs": frontend_keys,
    }


def _run_case(v, case: Any) -> dict[str, Any]:
    t0 = time.monotonic()
    cid = case.get("id") if isinstance(case, dict) else None
    out: dict[str, Any] = {"id": cid, "ok": False, "error": None, "stage": None,
                           "resolved": None}
    env_snapshot = dict(os.environ)
    try:
        if not isinstance(case, dict) or not isinstance(cid, str):
            raise CaseError("input", "case must be an object with a string 'id'")
        model_config = case.get("model_config")
        if not isinstance(model_config, dict):
            raise CaseError("input", "model_config must be an object (config.json)")
        has_kw, has_cli = "engine_kwargs" in case, "cli_args" in case
        if has_kw == has_cli:
            raise CaseError("input", "give exactly one of engine_kwargs / cli_args")
        with tempfile.TemporaryDirectory(prefix=f"vllmchk-{cid[:40]}-") as tmp:
            # a readable dir name shows up in error messages
            model_dir = os.path.join(tmp, "model")
            os.mkdir(model_dir)
            with open(os.path.join(model_dir, "config.json"), "w") as fh:
                json.dump(model_config, fh)
            if has_cli:
                cli_args = case["cli_args"]
                if not isinstance(cli_args, list):
                    raise CaseError("input", "cli_args must be a list of strings")
                engine_args, frontend_keys = _engine_args_from_cli(v, cli_args, model_dir)
            else:
                kw = case["engine_kwargs"]
                if not isinstance(kw, dict):
                    raise CaseError("input", "engine_kwargs must be an object")
                engine_args, frontend_keys = _engine_args_from_kwargs(
                    v, kw, model_dir, bool(case.get("ray_serve", True))
                )
            try:
                cfg = engine_args.create_engine_config(
                    usage_context=v["UsageContext"].OPENAI_API_SERVER
                )
            except Exception as exc:
                raise CaseError("create_engine_config", _fmt(exc)) from None
            try:
                cfg.model_config.verify_with_parallel_config(cfg.parallel_config)
            except Exception as exc:
                raise CaseError("verify_with_parallel_config", _fmt(exc)) from None
            out["resolved"] = _resolved(cfg, frontend_keys)
            out.update(ok=True, stage="ok")
    except CaseError as exc:
        out.update(stage=exc.stage, error=str(exc))
    except BaseException as exc:  # noqa: BLE001 - one case never kills the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exc(file=sys.stderr)
        out.update(stage="internal", error=_fmt(exc))
    finally:
        os.environ.clear()
        os.environ.update(env_snapshot)
    out["seconds"] = round(time.monotonic() - t0, 3)
    return out


def run_batch(load: Callable[[], dict[str, Any]], run_case: Callable[[dict[str, Any], Any], dict[str, Any]],
              header: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """The batch protocol of the tools here: ``{"cases": [...]}`` on stdin, one JSON document on stdout.

    Keeps stdout for the JSON only: everything else (python prints, C-level writes, vLLM logging,
    subprocess output) goes to stderr. ``load`` imports vLLM once; ``header`` names what the
    document says about it before the timings and the results.
    """
    json_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(obj: dict) -> None:
        with os.fdopen(json_fd, "w") as fh:
            json.dump(obj, fh)
            fh.write("\n")

    try:
        payload = json.load(sys.stdin)
        cases = payload["cases"]
        if not isinstance(cases, list):
            raise TypeError("'cases' must be a list")
    except Exception as exc:  # noqa: BLE001
        emit({"error": f"bad input: {_fmt(exc)}", "results": []})
        return 2

    _setup_env()
    t0 = time.monotonic()
    v = load()
    import_seconds = round(time.monotonic() - t0, 3)
    results = [run_case(v, case) for case in cases]
    emit({**header(v), "import_seconds": import_seconds, "total_seconds": round(time.monotonic() - t0, 3), "results": results})
    return 0


def main() -> int:
    return run_batch(
        _patch_vllm, _run_case, lambda v: {"vllm_version": v["vllm_version"], "torch_version": v["torch_version"], "platform": "cpu"}
    )


if __name__ == "__main__":
    sys.exit(main())

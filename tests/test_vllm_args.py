"""stackdef's generated vLLM arguments pass vLLM 0.22.0's own parser and
``create_engine_config`` (with the model's config.json, on CPU).

Covers the Ray Serve LLM path (``engine_kwargs`` of every compiled
llm_config, with Ray 2.56's engine-argument rules) and the kind CPU path
(the ``vllm serve`` flags of the vLLM Deployment).
"""

from __future__ import annotations

from typing import Any

import pytest

from stackdef.catalog.models import lookup
from stackdef.compile import compile_stack
from stackdef.compile.ray import serve_config_of
from stackdef.loader import validate_stack
from stackdef.pipeline import build
from stackdef.resolve import resolve
from stackdef.sizing import Workload
from stackdef.vllm_rules import problems
from tests.util import BLUEPRINTS, spec
from tests.vllm_client import run_checker

pytestmark = pytest.mark.vllm


def _model_dir(source: str) -> str:
    return source.rstrip("/").rsplit("/", 1)[-1]


def _cases_from(objects: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    cases = []
    for obj in objects:
        if obj["kind"] == "RayService":
            for app in serve_config_of(obj)["applications"]:
                for i, llm in enumerate(app.get("args", {}).get("llm_configs", [])):
                    source = llm["model_loading_config"]["model_source"]
                    cases.append(
                        {"id": f"{prefix}:{obj['metadata']['name']}:{i}", "model": _model_dir(source), "engine_kwargs": llm["engine_kwargs"]}
                    )
        if obj["kind"] == "Deployment":
            (container,) = obj["spec"]["template"]["spec"]["containers"]
            if container["command"] == ["vllm", "serve"]:
                model, *flags = container["args"]
                cases.append({"id": f"{prefix}:{obj['metadata']['name']}:cli", "model": _model_dir(model), "cli_args": flags})
    return cases


VARIANTS = {
    # (tensor, pipeline, engine extras) on Qwen2.5-7B-Instruct (28 heads, 4 KV heads).
    "tp2": (2, 1, {"max_model_len": 16384, "max_num_seqs": 8}),
    "tp4-pp2": (4, 2, {"dtype": "bfloat16"}),
    "prefix-cache": (1, 1, {"extra": {"enable_prefix_caching": True, "enable_chunked_prefill": True}}),
    "fp16-short": (1, 1, {"dtype": "float16", "max_model_len": 2048, "gpu_memory_utilization": 0.8}),
}


def _variant_objects() -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for name, (tp, pp, engine) in VARIANTS.items():
        d = spec()
        d["services"][0]["engine"] = {"tensor_parallel_size": tp, "pipeline_parallel_size": pp, **engine}
        d["services"][0]["accelerator"]["gpus_per_replica"] = tp * pp
        out.append((name, compile_stack(resolve(validate_stack(d))).objects()))
    return out


# stackdef's own copies of vLLM's rules (tensor parallel must divide the
# attention heads; max_model_len ≤ max_position_embeddings) against vLLM itself.
RULE_GRID = [
    (model, tp, ctx)
    for model in ("Qwen2.5-0.5B-Instruct", "Qwen2.5-7B-Instruct", "Llama-3.1-8B-Instruct")
    for tp in (1, 2, 3, 4, 7, 8)
    for ctx in ("limit", "over")
]


def _rule_case(model: str, tp: int, ctx: str) -> dict[str, Any]:
    arch = lookup(model)
    assert arch is not None
    length = arch.max_context if ctx == "limit" else arch.max_context * 2
    return {"id": f"rule:{model}:{tp}:{ctx}", "model": model,
            "engine_kwargs": {"tensor_parallel_size": tp, "max_model_len": length}, "ray_serve": False}


@pytest.fixture(scope="module")
def checked() -> dict:
    cases: list[dict[str, Any]] = []
    for name, path in BLUEPRINTS.items():
        cases += _cases_from(build(path).compiled.objects(), name)
    for name, objects in _variant_objects():
        cases += _cases_from(objects, name)
    generated = len(cases)
    cases += [_rule_case(*key) for key in RULE_GRID]
    result = run_checker(cases)
    result["cases"] = cases[:generated]
    return result


def test_every_generated_engine_config_is_accepted_by_vllm(checked: dict) -> None:
    ids = [c["id"] for c in checked["cases"]]
    assert "reference-eks:chat:0" in ids and "reference-kind:chat:cli" in ids
    assert len(ids) == 2 + len(VARIANTS)
    bad = {r["id"]: (r["stage"], r["error"]) for r in checked["results"] if not r["ok"] and not r["id"].startswith("rule:")}
    assert bad == {}


def test_vllm_resolves_what_stackdef_asked_for(checked: dict) -> None:
    by_id = checked["by_id"]
    eks = by_id["reference-eks:chat:0"]["resolved"]
    assert (eks["max_model_len"], eks["tensor_parallel_size"], eks["dtype"]) == (8192, 1, "bfloat16")
    assert eks["gpu_memory_utilization"] == 0.9
    # The scheduler limits the memory model assumed are the ones vLLM runs with.
    sizing = build(BLUEPRINTS["reference-eks"]).plan.to_json()["sizing"]["chat"]
    assert (eks["max_num_seqs"], eks["max_num_batched_tokens"]) == (sizing["max_num_seqs"], sizing["max_num_batched_tokens"])
    cpu = by_id["reference-kind:chat:cli"]["resolved"]
    assert (cpu["max_model_len"], cpu["dtype"]) == (2048, "bfloat16")
    tp = by_id["tp4-pp2:chat:0"]["resolved"]
    assert (tp["tensor_parallel_size"], tp["pipeline_parallel_size"]) == (4, 2)


def test_stackdef_rejects_exactly_what_vllm_rejects(checked: dict) -> None:
    disagreements = []
    rejected = 0
    for model, tp, ctx in RULE_GRID:
        case = _rule_case(model, tp, ctx)
        arch = lookup(model)
        w = Workload(arch, "bfloat16", None, case["engine_kwargs"]["max_model_len"], None, 0.9)
        # The rules vLLM applies in create_engine_config (the others need a GPU and are tested elsewhere).
        ours = bool([p for p in problems(arch, w.choice, None, tp, 1) if p.stage == "config"])
        theirs = not checked["by_id"][case["id"]]["ok"]
        rejected += theirs
        if ours != theirs:
            disagreements.append((case["id"], ours, checked["by_id"][case["id"]]["error"]))
    assert disagreements == []
    assert 0 < rejected < len(RULE_GRID)  # the grid holds both verdicts


def test_cpu_profile_threads_follow_the_cpu_limit_in_vllms_own_thread_manager() -> None:
    """vLLM's OMPProcessManager, given the compiled pod's env, runs limit − 1 OpenMP threads, bound to nothing."""
    import json
    import os
    import subprocess

    from tests.vllm_client import REPO

    objs = build(BLUEPRINTS["reference-kind"]).compiled.objects()
    (dep,) = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "chat"]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    limit = int(container["resources"]["limits"]["cpu"])
    python = os.environ["STACKDEF_VLLM_PYTHON"]
    tool = REPO / "tests" / "tools" / "vllm_cpu_threads.py"
    proc = subprocess.run([python, str(tool)], input=json.dumps({"env": env}), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["skip_setup"] is True and got["bound_cpus"] == []
    # One core stays with vLLM's scheduler process, as its own auto binding would keep.
    assert got["omp_num_threads"] == str(limit - 1) == env["OMP_NUM_THREADS"]
    # Without the setting, vLLM binds to every core it can see — the node's, not the pod's limit.
    default = subprocess.run([python, str(tool)], input=json.dumps({"env": {}}), capture_output=True, text=True, timeout=300)
    auto = json.loads(default.stdout.strip().splitlines()[-1])
    assert auto["skip_setup"] is False and auto["bind"] == "auto"

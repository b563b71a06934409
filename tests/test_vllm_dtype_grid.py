"""Every dtype × quantization × kv-cache dtype the spec accepts passes vLLM's own checks.

For each combination, stackdef validates a Qwen2.5-0.5B service on an L4 (its real config.json,
plus the checkpoint's ``quantization_config`` where the format needs one). What stackdef
accepts, it compiles; the compiled ``engine_kwargs`` must pass vLLM 0.22's own arg parsing and
``create_engine_config`` in the vLLM checker venv. What stackdef rejects, it rejects in vLLM's
terms, and the rule says where vLLM itself would stop:

- ``config``: vLLM's ``create_engine_config`` rejects it too, with the same message;
- ``config-cuda`` / ``load`` / ``worker``: vLLM stops there only on a GPU (its platform checks,
  building the model, or the GPU worker), so the CPU checker here accepts it; each such rule
  cites the vLLM source it follows (stackdef/vllm_rules.py);
- ``policy``: vLLM would run it and stackdef refuses, saying why.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest

from stackdef.compile import compile_stack
from stackdef.compile.ray import serve_config_of
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.resolve import resolve
from tests.util import REPO, spec
from tests.vllm_client import model_config, run_checker

pytestmark = pytest.mark.vllm

CHECKPOINTS = json.loads((REPO / "tests/data/checkpoints/quantization_configs.json").read_text())
DTYPES = ["auto", "bfloat16", "float16", "float32"]
QUANTS = [None, "awq", "gptq", "fp8", "fp8-online", "bitsandbytes", "compressed-tensors"]
KVS = [None, "auto", "float16", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"]


def checkpoint(quant: str | None) -> dict[str, Any]:
    cfg = copy.deepcopy(model_config("Qwen2.5-0.5B-Instruct"))
    facts = CHECKPOINTS.get(quant or "", {})
    if facts.get("quantization_config"):
        cfg["torch_dtype"] = facts["torch_dtype"]
        cfg["quantization_config"] = facts["quantization_config"]
    return cfg


def stackdef_verdict(dtype: str, quant: str | None, kv: str | None) -> tuple[dict[str, Any] | None, list[Any]]:
    d = spec(target={"type": "existing"})
    engine: dict[str, Any] = {"dtype": dtype, "max_model_len": 4096}
    if quant:
        engine["quantization"] = "fp8" if quant == "fp8-online" else quant
    if kv:
        engine["kv_cache_dtype"] = kv
    d["services"] = d["services"][:1]
    d["services"][0].update(source="Qwen/Qwen2.5-0.5B-Instruct", engine=engine, accelerator={"type": "L4"})
    try:
        objs = compile_stack(resolve(validate_stack(d, "s.yaml"))).objects()
    except SpecError as exc:
        return None, exc.issues
    (rs,) = [o for o in objs if o["kind"] == "RayService"]
    (llm,) = serve_config_of(rs)["applications"][0]["args"]["llm_configs"]
    return llm["engine_kwargs"], []


def test_every_accepted_combination_passes_vllm_and_every_rejection_says_where_vllm_stops() -> None:
    from stackdef import vllm_rules

    combos = list(itertools.product(DTYPES, QUANTS, KVS))
    cases, verdicts = [], {}
    for i, (dtype, quant, kv) in enumerate(combos):
        kwargs, issues = stackdef_verdict(dtype, quant, kv)
        verdicts[i] = (kwargs, issues)
        if kwargs is None:  # what stackdef would have passed, for vLLM to judge
            kwargs = {"dtype": dtype, "max_model_len": 4096, **({"quantization": "fp8" if quant == "fp8-online" else quant} if quant else {}), **({"kv_cache_dtype": kv} if kv else {})}
        cases.append({"id": str(i), "model_config": checkpoint(quant), "engine_kwargs": kwargs})
    out = run_checker(cases)
    by_stage: dict[str, int] = {}
    for i, (dtype, quant, kv) in enumerate(combos):
        kwargs, issues = verdicts[i]
        r = out["by_id"][str(i)]
        where = f"dtype={dtype} quantization={quant} kv={kv}: stackdef {[x.problem for x in issues]}; vLLM {r['stage']}: {r['error']}"
        if kwargs is not None:
            assert r["ok"], where
            by_stage["accepted"] = by_stage.get("accepted", 0) + 1
            continue
        # Each rejection comes from one rule, whose stage says whether vLLM's config step agrees.
        rules = [p for p in vllm_rules.problems(_arch(), _choice(dtype, quant, kv), "L4", 1, 1) if not p.warning]
        assert [f"services[0].{p.field}" for p in rules] == [x.path for x in issues], where
        for p in rules:
            by_stage[p.stage] = by_stage.get(p.stage, 0) + 1
        at_config = [p for p in rules if p.stage == "config"]
        if at_config:
            # vLLM's config step stops at (one of) them, in the same words.
            assert not r["ok"], where
            quoted = [p.problem.split('"')[1] for p in at_config if '"' in p.problem]
            # On CPU vLLM turns every AWQ checkpoint into its CPU AWQ method, so the method name differs.
            expect = [q.replace("awq_marlin", "cpu_awq") if quant == "awq" else q for q in quoted]
            assert expect and any(e in r["error"] for e in expect), where
        else:
            assert all(p.stage in ("config-cuda", "load", "worker", "policy") for p in rules), where
            assert r["ok"], f"vLLM's config step now refuses a rule stackdef places later: {where}"
    # The grid reaches accepted combinations and each kind of rejection.
    assert by_stage.get("accepted", 0) > 100 and by_stage.get("config") and by_stage.get("load") and by_stage.get("policy"), by_stage


def _arch():
    from stackdef.catalog.models import lookup

    return lookup("Qwen2.5-0.5B-Instruct")


def _choice(dtype: str, quant: str | None, kv: str | None):
    from stackdef.vllm_rules import EngineChoice

    return EngineChoice(dtype, "fp8" if quant == "fp8-online" else quant, kv, 4096)

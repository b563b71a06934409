"""Property: for generated spec pairs the diff agrees with the renders and with ``cost -f json``.

The summary must equal a comparison, object by object, of the two rendered folders (every
manifest document, every operator values file, every declared secret's keys), and the cost
delta must equal the difference of the two ``stackdef cost -f json`` totals.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stackdef.cost import money
from stackdef.diff.core import diff_snapshots
from stackdef.diff.snapshot import snapshot
from stackdef.errors import SpecError
from stackdef.pipeline import build
from stackdef.render import render_files
from tests.clirun import run
from tests.strategies import llm, model, valid_stacks


def _max(d: dict[str, Any], i: int, n: int) -> None:
    s = d["services"][i % len(d["services"])]
    a = s.setdefault("autoscaling", {})
    a["max_replicas"] = max(a.get("min_replicas", 0), a.get("initial_replicas", 0), n)


def _drop(d: dict[str, Any], i: int, _: int) -> None:
    if len(d["services"]) > 1:
        del d["services"][i % len(d["services"])]


def _rename(d: dict[str, Any], i: int, n: int) -> None:
    d["services"][i % len(d["services"])]["name"] += f"-v{n}"


def _gpu(d: dict[str, Any], i: int, n: int) -> None:
    s = d["services"][i % len(d["services"])]
    if s["type"] == "llm":
        s.setdefault("accelerator", {})["type"] = ["L4", "A10G", "H100", "A100-80G"][n % 4]


def _secret(d: dict[str, Any], i: int, n: int) -> None:
    d["secrets"] = [{"name": "hf-token", "keys": ["token", f"extra{n}"]}]


EDITS = (_max, _drop, _rename, _gpu, _secret)


@st.composite
def pairs(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    base = draw(valid_stacks())
    kind = draw(st.sampled_from(["edit", "edit", "independent", "add"]))
    if kind == "independent":
        head = draw(valid_stacks())
        head["name"] = base["name"]
    else:
        head = copy.deepcopy(base)
        if kind == "add":
            extra = draw(st.one_of(llm(), model()))
            if extra["name"] not in {s["name"] for s in head["services"]}:
                head["services"].append(extra)
        for edit, i, n in draw(st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 5), st.integers(1, 6)), min_size=1, max_size=3)):
            edit(head, i, n)
    return base, head


def _rendered(built: Any) -> dict[tuple[str, ...], Any]:
    """Every object of a render, keyed like the deploy edge names them, from the files it writes."""
    out: dict[tuple[str, ...], Any] = {}
    for rel, text in render_files(built.compiled, built.plan).items():
        if rel.startswith("operators/"):
            out[("chart", rel)] = text
        elif rel[:2].isdigit():
            for doc in yaml.safe_load_all(text):
                api = doc["apiVersion"]
                group = api.rpartition("/")[0] if "/" in api else ""
                out[(group, doc["kind"], doc["metadata"].get("namespace") or "", doc["metadata"]["name"])] = doc
    for s in built.plan.secrets:
        out[("secret", s.name)] = sorted(s.keys)
    return out


def _build(data: dict[str, Any], folder: Path, name: str) -> tuple[Any, Path] | None:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        return build(str(path)), path
    except SpecError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pair=pairs())
def test_summary_and_cost_agree_with_renders_and_cost_command(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        a = _build(pair[0], Path(tmp), "base.yaml")
        b = _build(pair[1], Path(tmp), "head.yaml")
        if a is None or b is None:
            event("a side does not build")
            return
        event("both sides build")
        (base, base_path), (head, head_path) = a, b
        doc = diff_snapshots(snapshot(base), snapshot(head))
        old, new = _rendered(base), _rendered(head)
        expect = {
            "create": len(new.keys() - old.keys()),
            "delete": len(old.keys() - new.keys()),
            "changed": sum(1 for k in old.keys() & new.keys() if old[k] != new[k]),
            "same": sum(1 for k in old.keys() & new.keys() if old[k] == new[k]),
        }
        s = doc["summary"]
        assert {"create": s["create"], "delete": s["delete"], "changed": s["update"] + s["replace"], "same": s["same"]} == expect
        assert all(r["op"] in ("create", "delete") or r["fields"] for r in doc["resources"])
        costs = [json.loads(run("cost", str(p), "-f", "json").stdout)["cost"] for p in (base_path, head_path)]
        for k in ("baseline_monthly_usd", "ceiling_monthly_usd"):
            x, y = costs[0][k], costs[1][k]
            assert doc["cost"]["delta"][k] == (None if x is None or y is None else money(y - x))
        renders_or_cost = expect["create"] + expect["delete"] + expect["changed"] > 0 or any(doc["cost"]["delta"].values())
        plan_level = (
            any(x["op"] != "same" for x in doc["services"]) or doc["budget"]["before"] != doc["budget"]["after"]
            or bool(doc["features"]) or bool(doc["warnings"])
        )
        # Changed exactly when the renders, the cost or something the plan shows (replica bounds, budgets) differ.
        assert doc["changed"] == (renders_or_cost or plan_level)
        if not doc["changed"]:
            assert base.plan.to_json()["services"] == head.plan.to_json()["services"]

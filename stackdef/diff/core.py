"""Compare two snapshots: the diff document (``diff -f json``, its stable contract).

Resources are matched by (API group, kind, namespace, name), the identity the
deploy edge gives Pulumi, so a renamed object is one delete and one create and
an apiVersion bump of the same object is an update. Each changed resource is an
update or a replace (:mod:`stackdef.diff.rules`); services, GPU fit, cost,
budgets and layer stages are compared from the two plans. Order is the head's
component and object order, with what only the base has after it: the same two
snapshots give the same bytes.
"""

from __future__ import annotations

from typing import Any

from stackdef.cost import EPSILON_USD, money
from stackdef.diff.fields import compare
from stackdef.diff.rules import classify, group_of

#: Version of the diff document.
DIFF_VERSION = 1
OPS = ("create", "update", "delete", "replace")


def _key(r: dict[str, Any]) -> tuple[str, str, str, str]:
    return (group_of(r["apiVersion"]), r["kind"], r["namespace"] or "", r["name"])


def diff_snapshots(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """The diff document from ``base`` to ``head`` (JSON data)."""
    resources, same = _resources(base, head)
    summary = {op: sum(1 for r in resources if r["op"] == op) for op in OPS}
    summary["same"] = same
    services = _services(base, head, resources)
    cost = _cost(base, head)
    features = _stages(base, head)
    budget = {"before": _budget_verdict(base), "after": _budget_verdict(head)}
    warnings = _warnings(base, head, resources)
    changed = (
        bool(resources) or bool(features) or bool(warnings)
        or any(v not in (None, 0) for v in cost["delta"].values())
        or budget["before"] != budget["after"]
        or any(s["op"] != "same" or s["budget"]["before"] != s["budget"]["after"] for s in services)
    )
    doc = {
        "version": DIFF_VERSION,
        "base": _side(base),
        "head": _side(head),
        "changed": changed,
        "summary": summary,
        "resources": resources,
        "cost": cost,
        "budget": budget,
        "services": services,
        "features": features,
        "warnings": warnings,
    }
    return doc


def _side(s: dict[str, Any]) -> dict[str, Any]:
    plan = s["plan"]
    out = {
        "source": s["source"],
        "stack": s["stack"],
        "exists": s["exists"],
        "target": plan["target"]["type"] if plan else None,
    }
    if s.get("errors"):
        out["errors"] = list(s["errors"])
    return out


def _resources(base: dict[str, Any], head: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    old = {_key(r): r for r in base["resources"]}
    new_keys = {_key(r) for r in head["resources"]}
    order = [c["name"] for c in head["components"]]
    order += [c["name"] for c in base["components"] if c["name"] not in order]
    rank = {name: i for i, name in enumerate(order)}
    out: list[tuple[int, int, dict[str, Any]]] = []
    same = 0
    for i, r in enumerate(head["resources"]):
        b = old.get(_key(r))
        if b is None:
            out.append((rank[r["component"]], i, _entry(r, "create", [], ())))
            continue
        changes = compare(r["kind"], b["body"], r["body"])
        if not changes:
            same += 1
            continue
        verdict = classify(r["apiVersion"], r["kind"], changes, b["body"], r["body"])
        entry = _entry(r, verdict.op, changes, verdict.reasons, protected=b["protected"] or r["protected"])
        entry["problems"] = list(verdict.problems)
        out.append((rank[r["component"]], i, entry))
    n = len(head["resources"])
    for j, b in enumerate(base["resources"]):
        if _key(b) not in new_keys:
            out.append((rank[b["component"]], n + j, _entry(b, "delete", [], ())))
    out.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in out], same


def _entry(r: dict[str, Any], op: str, changes: list[Any], reasons: tuple[str, ...], protected: bool | None = None) -> dict[str, Any]:
    return {
        "component": r["component"],
        "kind": r["kind"],
        "apiVersion": r["apiVersion"],
        "name": r["name"],
        "namespace": r["namespace"],
        "op": op,
        "protected": r["protected"] if protected is None else protected,
        "reasons": list(reasons),
        "problems": [],
        "fields": [c.to_json() for c in changes],
    }


def _plan_services(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {x["name"]: x for x in s["plan"]["services"]} if s["plan"] else {}


def _service_costs(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {x["name"]: x for x in s["plan"]["cost"]["services"]} if s["plan"] else {}


def _gpu(p: dict[str, Any] | None) -> str | None:
    if not p or not p.get("gpu"):
        return None
    return f"{p['gpu']['type']}×{p['gpu']['per_replica']}"


def _fit(s: dict[str, Any], name: str) -> str | None:
    sizing = s["plan"]["sizing"].get(name) if s["plan"] else None
    if sizing is None:
        return None
    return "tight" if sizing["tight"] else "fits"


def _services(base: dict[str, Any], head: dict[str, Any], resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old, new = _plan_services(base), _plan_services(head)
    old_cost, new_cost = _service_costs(base), _service_costs(head)
    touched = {r["component"] for r in resources}
    out = []
    for name in [*new, *(n for n in old if n not in new)]:
        b, a = old.get(name), new.get(name)
        if b is None:
            op = "create"
        elif a is None:
            op = "delete"
        else:
            op = "update" if (name in touched or a != b or old_cost.get(name) != new_cost.get(name)) else "same"
        out.append({
            "name": name,
            "type": (a or b)["type"],
            "op": op,
            "gpu": {"before": _gpu(b), "after": _gpu(a)},
            "fit": {"before": _fit(base, name), "after": _fit(head, name)},
            "replicas": {
                "before": {k: b["replicas"][k] for k in ("min", "max")} if b else None,
                "after": {k: a["replicas"][k] for k in ("min", "max")} if a else None,
            },
            "cost": {"before": _money_pair(old_cost.get(name)), "after": _money_pair(new_cost.get(name))},
            "budget": {
                "before": _service_budget(base, name, old_cost.get(name)),
                "after": _service_budget(head, name, new_cost.get(name)),
            },
        })
    return out


def _money_pair(c: dict[str, Any] | None) -> dict[str, float | None] | None:
    if c is None:
        return None
    return {"baseline_monthly_usd": c["baseline_monthly_usd"], "ceiling_monthly_usd": c["ceiling_monthly_usd"]}


def _totals(s: dict[str, Any]) -> dict[str, float | None]:
    if not s["plan"]:
        return {"baseline_monthly_usd": 0.0, "ceiling_monthly_usd": 0.0}  # a stack that does not exist costs nothing
    c = s["plan"]["cost"]
    return {"baseline_monthly_usd": c["baseline_monthly_usd"], "ceiling_monthly_usd": c["ceiling_monthly_usd"]}


def _cost(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    before, after = _totals(base), _totals(head)
    delta = {
        k: None if before[k] is None or after[k] is None else money(after[k] - before[k])  # type: ignore[operator]
        for k in before
    }
    return {"before": before, "after": after, "delta": delta}


def _verdict(budget: dict[str, Any] | None, ceiling: float | None, capped: bool) -> dict[str, Any]:
    """none (no budget), capped (max_replicas lowered to fit), over (policy warn), within, or unknown (unpriced)."""
    if budget is None:
        return {"verdict": "none"}
    if capped:
        verdict = "capped"
    elif ceiling is None:
        verdict = "unknown"
    else:
        verdict = "over" if ceiling > budget["monthly_usd"] + EPSILON_USD else "within"
    return {"verdict": verdict, "monthly_usd": budget["monthly_usd"], "policy": budget["policy"], "ceiling_monthly_usd": ceiling}


def _budget_verdict(s: dict[str, Any]) -> dict[str, Any]:
    if not s["plan"]:
        return {"verdict": "none"}
    cost = s["plan"]["cost"]
    capped = any(x["cut"] and x["cut"]["reason"] == "stack budget" for x in cost["services"])
    return _verdict(s["budgets"]["stack"], cost["ceiling_monthly_usd"], capped)


def _service_budget(s: dict[str, Any], name: str, c: dict[str, Any] | None) -> dict[str, Any] | None:
    if c is None:
        return None
    capped = bool(c["cut"] and c["cut"]["reason"] == "service budget")
    return _verdict(s["budgets"]["services"].get(name), c["ceiling_monthly_usd"], capped)


def _stages(base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    layers = [*head["stages"], *(n for n in base["stages"] if n not in head["stages"])]
    for layer in layers:
        old, new = base["stages"].get(layer, {}), head["stages"].get(layer, {})
        for item in [*new, *(i for i in old if i not in new)]:
            if old.get(item) != new.get(item):
                out.append({"layer": layer, "name": item, "before": old.get(item), "after": new.get(item)})
    return out


def _warnings(base: dict[str, Any], head: dict[str, Any], resources: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in resources:
        where = f"{r['kind']} {r['namespace'] + '/' if r['namespace'] else ''}{r['name']}"
        out.extend(f"{where}: {p}" for p in r["problems"])
        if r["protected"] and r["op"] in ("delete", "replace"):
            action = "deleted" if r["op"] == "delete" else "replaced"
            out.append(
                f"{where} is protected and would be {action}, losing its data: `pulumi up` stops instead "
                "(back it up, then `pulumi state unprotect` it if that is intended)"
            )
    new = _plan_services(head)
    workers = {s["name"]: s.get("workers") for s in new.values()}
    for r in resources:
        if r["kind"] == "RayService" and r["op"] == "replace":
            svc = next((s for s in new.values() if s["name"] == r["component"]), None)
            w = workers.get(r["component"])
            if svc and svc.get("gpu") and w:
                out.append(
                    f"service {svc['name']!r}: until traffic moves, the new RayCluster runs beside the old one: "
                    f"up to {w['max'] * w['gpus']} more {svc['gpu']['type']} GPU(s) during the rollout"
                )
    # A warning is new when the base had none with the same field and fix (its figures may differ).
    seen = {(w["path"], w["fix"]) for w in (base["plan"] or {}).get("warnings", [])}
    for w in (head["plan"] or {}).get("warnings", []):
        if (w["path"], w["fix"]) not in seen:
            out.append(f"new plan warning: {w['path'] + ': ' if w['path'] else ''}{w['problem']} ({w['fix']})")
    return out

"""A built stack reduced to what ``diff`` compares: plain JSON data, no live objects.

A snapshot holds every resource the deploy edge would manage (manifest objects,
Helm charts, and one Secret per declared secret, whose values stackdef never
knows), the plan's JSON form, the budgets and the stack's graph. Being plain
data, the base side can be built in another process (``--base-ref``) and
handed over as JSON, and tests can diff hand-made snapshots.
"""

from __future__ import annotations

from typing import Any

from stackdef import registry

#: Version of the snapshot document (bumped when its shape changes).
SNAPSHOT_VERSION = 1
#: What a secret's value is shown as, everywhere.
MASK = "(secret)"


def snapshot(built: Any) -> dict[str, Any]:
    """The snapshot of a :class:`stackdef.pipeline.Built` stack."""
    compiled = built.compiled
    rst = compiled.resolved
    plan = built.plan.to_json()
    resources: list[dict[str, Any]] = []
    components: list[dict[str, str]] = []
    for comp in compiled.components:
        components.append({"name": comp.name, "role": comp.role, "kind": comp.kind})
        for chart in comp.charts:
            resources.append({
                "component": comp.name,
                # What the deploy edge registers: Pulumi's kubernetes:helm.sh/v4:Chart.
                "apiVersion": "helm.sh/v4",
                "kind": "Chart",
                "name": chart.release,
                "namespace": chart.namespace,
                "protected": False,
                "body": {"chart": chart.chart, "repo": chart.repo, "version": chart.version, "values": chart.values},
            })
        for obj in comp.objects:
            md = obj["metadata"]
            resources.append({
                "component": comp.name,
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": md["name"],
                "namespace": md.get("namespace"),
                "protected": md.get("annotations", {}).get("stackdef.dev/protect") == "true",
                "body": obj,
            })
    if rst.stack.secrets:
        # The deploy edge creates these from Pulumi config (or finds them in the cluster): the diff
        # tracks their keys, and their values are masked before they could ever be compared.
        components.append({"name": "secrets", "role": "secrets", "kind": "secrets"})
        for decl in rst.stack.secrets:
            resources.append({
                "component": "secrets",
                "apiVersion": "v1",
                "kind": "Secret",
                "name": decl.name,
                "namespace": rst.namespace,
                "protected": False,
                "body": {"type": "Opaque", "stringData": {key: MASK for key in decl.keys}},
            })
    budgets = {
        "stack": _budget(rst.stack.budget),
        "services": {rs.name: _budget(rs.spec.budget) for rs in rst.services},
    }
    stages = {}
    for name, section in plan.get("layers", {}).items():
        found = registry.LAYERS.get(name).stages(section)
        if found:
            stages[name] = found
    return {
        "snapshot": SNAPSHOT_VERSION,
        "source": built.loaded.source,
        "stack": rst.stack.name,
        "exists": True,
        "components": components,
        "resources": resources,
        "plan": plan,
        "budgets": budgets,
        "stages": stages,
        "graph": graph_of(plan),
    }


def empty_snapshot(source: str, stack: str | None = None) -> dict[str, Any]:
    """The side of a diff where the stack does not exist (a new or a deleted spec file): nothing, at $0."""
    return {
        "snapshot": SNAPSHOT_VERSION,
        "source": source,
        "stack": stack,
        "exists": False,
        "components": [],
        "resources": [],
        "plan": None,
        "budgets": {"stack": None, "services": {}},
        "stages": {},
        "graph": {"nodes": [], "edges": []},
    }


def _budget(b: Any) -> dict[str, Any] | None:
    return None if b is None else {"monthly_usd": b.monthly_usd, "policy": b.policy}


def graph_of(plan: dict[str, Any]) -> dict[str, Any]:
    """Nodes and edges of the stack's picture: its services, then what each layer adds.

    Each node names the compiled component it stands for, so a changed resource
    marks its node as changed.
    """
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for s in plan["services"]:
        nodes.append({"id": f"svc:{s['name']}", "label": _service_label(s), "group": "serving", "shape": "service", "component": s["name"]})
    for name, section in plan.get("layers", {}).items():
        part = registry.LAYERS.get(name).graph(section)
        nodes.extend(part.get("nodes", ()))
        edges.extend(part.get("edges", ()))
    return {"nodes": nodes, "edges": edges}


def _service_label(s: dict[str, Any]) -> str:
    r = s["replicas"]
    gpu = f" · {s['gpu']['type']}×{s['gpu']['per_replica']}" if s.get("gpu") else " · CPU"
    return f"{s['name']} ({s['type']}){gpu} · {r['min']}–{r['max']} replicas"

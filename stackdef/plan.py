"""Plan: what a stack will create, offline — as data, a table or Markdown.

``build_plan`` returns one JSON-able dict (the ``plan --format json``
document); the table and Markdown views are renderings of that dict, so the
three formats can never disagree. No secret value is ever part of a plan —
stackdef only knows secret *names* and *keys*.
"""

from __future__ import annotations

from typing import Any

from stackdef.compile import CompiledStack
from stackdef.errors import Issue
from stackdef.resolve import ResolvedService
from stackdef.spec.models import LLMService, ModelService
from stackdef.versions import API_VERSION


def _target(compiled: CompiledStack) -> dict[str, Any]:
    t = compiled.resolved.stack.target
    out: dict[str, Any] = {"type": t.type}
    for key in ("region", "cluster_name", "context", "cloud"):
        value = getattr(t, key, None)
        if value is not None:
            out[key] = value
    return out


def _service(rs: ResolvedService, namespace: str) -> dict[str, Any]:
    svc = rs.spec
    entry: dict[str, Any] = {
        "name": rs.name,
        "type": svc.type,
        "mode": rs.mode,
        "image": rs.image,
        "replicas": {"min": rs.min_replicas, "max": rs.max_replicas, "initial": rs.initial_replicas},
        "gpu": {"type": rs.gpu_type, "per_replica": rs.gpus_per_replica} if rs.gpu_type else None,
        "endpoint": f"http://{rs.names['service']}.{namespace}.svc.cluster.local:8000",
    }
    if isinstance(svc, LLMService):
        entry["served_model_name"] = rs.served_model_name
        entry["model"] = svc.cpu_profile.source if rs.mode == "llm-cpu" else svc.source
        entry["openai_base_url"] = entry["endpoint"] + "/v1"
    if isinstance(svc, ModelService):
        entry["import_path"] = svc.import_path
    if rs.workers is not None:
        w = rs.workers
        entry["workers"] = {
            "group": w.name,
            "min": w.min_workers,
            "max": w.max_workers,
            "cpu": w.cpu,
            "memory": w.memory,
            "gpus": w.gpus,
            "node_selector": dict(w.placement.node_selector),
        }
    entry["notes"] = list(rs.notes)
    return entry


def _resources(compiled: CompiledStack) -> list[dict[str, Any]]:
    out = []
    for comp in compiled.components:
        for chart in comp.charts:
            out.append(
                {
                    "component": comp.name,
                    "type": "helm-chart",
                    "name": chart.release,
                    "namespace": chart.namespace,
                    "chart": chart.chart,
                    "version": chart.version,
                }
            )
        for obj in comp.objects:
            md = obj["metadata"]
            out.append(
                {
                    "component": comp.name,
                    "kind": obj["kind"],
                    "apiVersion": obj["apiVersion"],
                    "name": md["name"],
                    "namespace": md.get("namespace"),
                    "protected": md.get("annotations", {}).get("stackdef.dev/protect") == "true",
                }
            )
    return out


def _secrets(compiled: CompiledStack) -> list[dict[str, Any]]:
    stack = compiled.resolved.stack
    used: dict[str, list[str]] = {s.name: [] for s in stack.secrets}
    for svc in stack.services:
        refs = []
        if isinstance(svc, LLMService) and svc.hf_token is not None:
            refs.append(svc.hf_token.secret)
        if isinstance(svc, ModelService):
            refs.extend(r.secret for r in svc.secret_env.values())
        for name in sorted(set(refs)):
            used.setdefault(name, []).append(svc.name)
    return [
        {"name": s.name, "keys": list(s.keys), "used_by": used[s.name], "description": s.description}
        for s in stack.secrets
    ]


def build_plan(compiled: CompiledStack, warnings: tuple[Issue, ...] | list[Issue] = ()) -> dict[str, Any]:
    rst = compiled.resolved
    return {
        "apiVersion": API_VERSION,
        "stack": rst.stack.name,
        "namespace": rst.namespace,
        "target": _target(compiled),
        "services": [_service(rs, rst.namespace) for rs in rst.services],
        "resources": _resources(compiled),
        "secrets": _secrets(compiled),
        "target_unsupported": list(rst.unsupported),
        "target_notes": list(rst.notes),
        "warnings": [w.to_dict() for w in warnings],
    }


def _gpu(s: dict[str, Any]) -> str:
    return f"{s['gpu']['per_replica']}× {s['gpu']['type']}" if s["gpu"] else "—"


def plan_markdown(plan: dict[str, Any]) -> str:
    from stackdef.templating import render_template

    return render_template("plan.md.j2", plan=plan, gpu=_gpu)


def print_plan_table(plan: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    t = plan["target"]
    where = t["type"] + (f" ({t['region']})" if "region" in t else "")
    console.print(f"[bold]stack[/bold] {plan['stack']}  [bold]target[/bold] {where}  [bold]namespace[/bold] {plan['namespace']}")

    svc = Table(title="Services", title_justify="left")
    for col in ("service", "mode", "model / app", "replicas", "GPU / replica", "workers", "endpoint"):
        svc.add_column(col)
    for s in plan["services"]:
        r = s["replicas"]
        w = s.get("workers")
        workers = f"{w['min']}–{w['max']} × ({w['cpu']} CPU, {w['memory']}{', ' + str(w['gpus']) + ' GPU' if w['gpus'] else ''})" if w else "—"
        svc.add_row(
            s["name"],
            s["mode"],
            s.get("model") or s.get("import_path", ""),
            f"{r['min']}–{r['max']}",
            _gpu(s),
            workers,
            s["endpoint"],
        )
    console.print(svc)

    res = Table(title=f"Resources ({len(plan['resources'])})", title_justify="left")
    for col in ("component", "kind", "name", "namespace"):
        res.add_column(col)
    for r in plan["resources"]:
        kind = r.get("kind") or f"{r['type']} {r['chart']}@{r['version']}"
        res.add_row(r["component"], kind + (" (protected)" if r.get("protected") else ""), r["name"], r["namespace"] or "")
    console.print(res)

    if plan["secrets"]:
        console.print("[bold]Secrets to create before deploy[/bold] (values never appear here):")
        for s in plan["secrets"]:
            console.print(f"  {s['name']}: keys {', '.join(s['keys'])} — used by {', '.join(s['used_by']) or 'nothing'}")
    for note in plan["target_notes"]:
        console.print(f"[dim]note: {note}[/dim]")
    for s in plan["services"]:
        for note in s["notes"]:
            console.print(f"[dim]note: {s['name']}: {note}[/dim]")
    for w in plan["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w['path']}: {w['problem']}" + (f" ({w['fix']})" if w["fix"] else ""))

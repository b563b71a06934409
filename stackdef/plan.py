"""Plan: what a stack will create, offline — as data, a table or Markdown.

``build_plan`` returns one JSON-able dict (the ``plan --format json``
document); the table and Markdown views are renderings of that dict, so the
three formats can never disagree. No secret value is ever part of a plan —
stackdef only knows secret *names* and *keys*.
"""

from __future__ import annotations

from typing import Any

from stackdef.compile import CompiledStack
from stackdef.cost import HOURS_PER_MONTH, GpuPricing, ServiceBill, money
from stackdef.errors import Issue
from stackdef.resolve import ResolvedService, ResolvedStack, stack_cost
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
        "endpoint": rs.endpoint,
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
            "instance_types": list(w.placement.instance_types),
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


def _sizing(rs: ResolvedService) -> dict[str, Any] | None:
    f = rs.sizing.fit
    if f is None:
        return None
    r2 = lambda x: round(x, 2)  # noqa: E731
    return {
        "model": rs.sizing.arch.name if rs.sizing.arch else None,
        "gpu": f.gpu,
        "gpus": f.gpus,
        "max_model_len": f.max_model_len,
        "concurrency": f.concurrency,
        "weights_gib": r2(f.weights_gib),
        "kv_cache_gib": r2(f.kv_cache_gib),
        "overhead_gib": r2(f.overhead_gib),
        "needed_gib": r2(f.needed_gib),
        "offered_gib": r2(f.offered_gib),
    }


def _service_cost(rs: ResolvedService) -> dict[str, Any]:
    sz = rs.sizing
    bill = sz.bill
    out: dict[str, Any] = {
        "name": rs.name,
        "instance_type": sz.instance.instance_type if sz.instance else None,
        "gpu": rs.gpu_type,
        "gpus_per_replica": rs.gpus_per_replica,
        "min_replicas": rs.min_replicas,
        "max_replicas": rs.max_replicas,
        "replicas_per_node": sz.replicas_per_node,
        "usd_per_node_hour": sz.instance.usd_per_hour if sz.instance else None,
        "usd_per_replica_hour": round(sz.instance.usd_per_hour / sz.replicas_per_node, 6) if sz.instance and sz.replicas_per_node else None,
        "baseline_monthly_usd": money(bill.monthly(rs.min_replicas)) if bill else None,
        "ceiling_monthly_usd": money(bill.monthly(rs.max_replicas)) if bill else None,
        # At zero replicas a GPU service still runs (and pays for) its Ray head.
        "baseline_is_head_only": bool(rs.gpu_type) and rs.min_replicas == 0 and rs.head is not None,
        "cut": None,
        "runner_ups": [_runner_up(rs, o) for o in sz.runner_ups],
    }
    if rs.cut is not None:
        out["cut"] = {
            "from_max_replicas": rs.cut.from_replicas,
            "to_max_replicas": rs.cut.to_replicas,
            "saved_monthly_usd": rs.cut.saved_monthly_usd,
            "reason": rs.cut.reason,
        }
    return out


def _runner_up(rs: ResolvedService, o: Any) -> dict[str, Any]:
    """A runner-up priced on the same terms as the choice: its GPU nodes plus the service's head and CPU pods."""
    bill = rs.sizing.bill
    alt = ServiceBill(GpuPricing(o.instance, o.replicas_per_node), bill.cpu_instance, bill.cpu_load) if bill else None
    return {
        "instance_type": o.instance.instance_type,
        "gpu": o.instance.gpu,
        "gpus_per_replica": o.gpus_per_replica,
        "replicas_per_node": o.replicas_per_node,
        "usd_per_node_hour": o.instance.usd_per_hour,
        "baseline_monthly_usd": money(alt.monthly(rs.min_replicas)) if alt else None,
        "ceiling_monthly_usd": money(alt.monthly(rs.max_replicas)) if alt else money(o.hourly(rs.max_replicas) * HOURS_PER_MONTH),
    }


def _pool_lines(rst: ResolvedStack, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CPU pool beyond the services' own shares: operators, and rounding up to whole nodes."""
    if rst.cpu_instance is None:
        return []
    inst = rst.cpu_instance
    lines = []
    if rst.shared_pods:
        from stackdef.cost import node_fraction

        c = sum(p.load[0] for p in rst.shared_pods)
        m = sum(p.load[1] for p in rst.shared_pods)
        usd = money(node_fraction(inst, c, m) * inst.usd_per_hour * HOURS_PER_MONTH)
        lines.append({"item": "operators (KubeRay)", "baseline_monthly_usd": usd, "ceiling_monthly_usd": usd})
    base, ceil = stack_cost(rst, False), stack_cost(rst, True)
    fixed = rst.fixed_hourly_usd * HOURS_PER_MONTH
    shares = [sum(s[k] for s in services) + sum(x[k] for x in lines) for k in ("baseline_monthly_usd", "ceiling_monthly_usd")]
    from stackdef.cost import cpu_nodes

    nodes = [cpu_nodes(inst, c.cpu, c.mem) for c in (base, ceil)]
    lines.append(
        {
            "item": f"CPU nodes rounded to whole {inst.instance_type} ({nodes[0]} at baseline, {nodes[1]} at ceiling)",
            "baseline_monthly_usd": money(base.monthly() - fixed - shares[0]),
            "ceiling_monthly_usd": money(ceil.monthly() - fixed - shares[1]),
        }
    )
    return lines


def _cost(compiled: CompiledStack) -> dict[str, Any]:
    rst = compiled.resolved
    services = [_service_cost(rs) for rs in rst.services]
    known = all(rs.sizing.bill is not None for rs in rst.services)
    fixed = [{"item": label, "monthly_usd": money(usd * HOURS_PER_MONTH)} for label, usd in rst.fixed_items]
    fixed_monthly = money(rst.fixed_hourly_usd * HOURS_PER_MONTH)
    pool = _pool_lines(rst, services) if known else []
    return {
        "currency": "USD",
        "hours_per_month": HOURS_PER_MONTH,
        "priced_region": "/".join(rst.priced) if rst.priced else ("kind (free)" if rst.target == "kind" else None),
        "baseline_monthly_usd": money(stack_cost(rst, False).monthly()) if known else None,
        "ceiling_monthly_usd": money(stack_cost(rst, True).monthly()) if known else None,
        "fixed_monthly_usd": fixed_monthly,
        "fixed": fixed,
        "cpu_pool": pool,
        "budget_monthly_usd": rst.stack.budget.monthly_usd if rst.stack.budget else None,
        "services": services,
    }


def _requests(rst: ResolvedStack) -> dict[str, Any]:
    out = {}
    for key, at_max in (("baseline", False), ("ceiling", True)):
        cpu, mem, gpus = rst.requests(at_max)
        out[key] = {"cpu": round(cpu, 3), "memory_gib": round(mem, 2), "gpus": gpus}
    return out


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
        "sizing": {rs.name: _sizing(rs) for rs in rst.services if rs.sizing.fit is not None},
        "cost": _cost(compiled),
        "requests": _requests(rst),
        "cluster_needs": list(rst.cluster_needs),
        "target_unsupported": list(rst.unsupported),
        "target_notes": list(rst.notes),
        "warnings": [w.to_dict() for w in warnings],
    }


def _gpu(s: dict[str, Any]) -> str:
    return f"{s['gpu']['per_replica']}× {s['gpu']['type']}" if s["gpu"] else "—"


def plan_markdown(plan: dict[str, Any]) -> str:
    from stackdef.templating import render_template

    return render_template("plan.md.j2", plan=plan, gpu=_gpu, usd=_usd, rate=_rate, baseline=baseline, requests_line=requests_line)


def print_plan_table(plan: dict[str, Any], console: Any) -> None:
    t = plan["target"]
    where = t["type"] + (f" ({t['region']})" if "region" in t else "")
    console.print(f"[bold]stack[/bold] {plan['stack']}  [bold]target[/bold] {where}  [bold]namespace[/bold] {plan['namespace']}")

    svc = _table("Services", ("service", "mode", "model / app", "replicas", "GPU / replica", "workers", "endpoint"))
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

    res = _table(f"Resources ({len(plan['resources'])})", ("component", "kind", "name", "namespace"))
    for r in plan["resources"]:
        kind = r.get("kind") or f"{r['type']} {r['chart']}@{r['version']}"
        res.add_row(r["component"], kind + (" (protected)" if r.get("protected") else ""), r["name"], r["namespace"] or "")
    console.print(res)

    print_sizing_table(plan, console)
    print_cost_table(plan, console)
    console.print(requests_line(plan))
    for need in plan["cluster_needs"]:
        console.print(f"[bold]the cluster must provide[/bold] {need}")

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


def _table(title: str, columns: tuple[str, ...], numeric: tuple[str, ...] = ()) -> Any:
    """A rich Table whose text columns wrap (never cut) and whose figures never break or shorten."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in columns:
        if col in numeric:
            t.add_column(col, no_wrap=True, overflow="ignore", justify="right")
        else:
            t.add_column(col, overflow="fold")
    return t


def _usd(x: float | None) -> str:
    return "unknown" if x is None else f"${x:,.2f}"


def baseline(s: dict[str, Any]) -> str:
    """A service's baseline, labelled when it is only the head of a scale-to-zero service."""
    return _usd(s["baseline_monthly_usd"]) + (" (head)" if s.get("baseline_is_head_only") else "")


def requests_line(plan: dict[str, Any]) -> str:
    r = plan["requests"]

    def one(x: dict[str, Any]) -> str:
        return f"{x['cpu']:g} CPU, {x['memory_gib']:g} GiB" + (f", {x['gpus']} GPU" if x["gpus"] else "")

    return f"Cluster requests: {one(r['baseline'])} at min replicas; {one(r['ceiling'])} at max"


def _rate(x: float | None) -> str:
    return "—" if x is None else f"${x:,.4f}"


def print_cost_table(plan: dict[str, Any], console: Any) -> None:
    cost = plan["cost"]
    t = _table(
        f"Monthly cost ({cost['hours_per_month']} h, {cost['priced_region'] or 'no prices'})",
        ("service", "instance", "GPU / replica", "replicas", "per replica-hour", "baseline", "ceiling"),
        numeric=("per replica-hour", "baseline", "ceiling"),
    )
    for s in cost["services"]:
        cut = f" (cut from {s['cut']['from_max_replicas']})" if s["cut"] else ""
        t.add_row(
            s["name"],
            s["instance_type"] or "—",
            f"{s['gpus_per_replica']}× {s['gpu']}" if s["gpu"] else "—",
            f"{s['min_replicas']}–{s['max_replicas']}{cut}",
            _rate(s["usd_per_replica_hour"]),
            baseline(s),
            _usd(s["ceiling_monthly_usd"]),
        )
    for p in cost["cpu_pool"]:
        t.add_row(p["item"], "", "", "", "", _usd(p["baseline_monthly_usd"]), _usd(p["ceiling_monthly_usd"]))
    for f in cost["fixed"]:
        t.add_row(f["item"], "", "", "", "", _usd(f["monthly_usd"]), _usd(f["monthly_usd"]))
    t.add_row("[bold]total[/bold]", "", "", "", "", _usd(cost["baseline_monthly_usd"]), _usd(cost["ceiling_monthly_usd"]))
    console.print(t)
    if cost["budget_monthly_usd"] is not None:
        console.print(f"budget: {_usd(cost['budget_monthly_usd'])}/month")
    for s in cost["services"]:
        if s["runner_ups"]:
            alts = "; ".join(
                f"{o['gpus_per_replica']}× {o['gpu']} on {o['instance_type']} ({_usd(o['ceiling_monthly_usd'])} at max)"
                for o in s["runner_ups"]
            )
            console.print(f"[dim]{s['name']}: runner-ups: {alts}[/dim]")


def print_sizing_table(plan: dict[str, Any], console: Any) -> None:
    if not plan["sizing"]:
        return
    t = _table(
        "GPU memory per replica (GiB)",
        ("service", "model", "GPUs", "weights", "KV cache", "overhead", "needed", "offered"),
        numeric=("weights", "overhead", "needed", "offered"),
    )
    for name, z in plan["sizing"].items():
        t.add_row(
            name,
            z["model"] or "—",
            f"{z['gpus']}× {z['gpu']}",
            f"{z['weights_gib']:.2f}",
            f"{z['kv_cache_gib']:.2f} ({z['max_model_len']} tok × {z['concurrency']})",
            f"{z['overhead_gib']:.2f}",
            f"{z['needed_gib']:.2f}",
            f"{z['offered_gib']:.2f}",
        )
    console.print(t)


def cost_markdown(plan: dict[str, Any]) -> str:
    from stackdef.templating import render_template

    return render_template("cost.md.j2", plan=plan, usd=_usd, rate=_rate, baseline=baseline, requests_line=requests_line)

"""Views of a plan: the table (rich) and Markdown (jinja2) renderings of its JSON form.

They read :meth:`stackdef.plan.model.Plan.to_view`: the document
``plan -f json`` prints plus each service's summary, so the formats can never disagree.
"""

from __future__ import annotations

from typing import Any


def _gpu(s: dict[str, Any]) -> str:
    return f"{s['gpu']['per_replica']}× {s['gpu']['type']}" if s["gpu"] else "—"


def plan_markdown(plan: dict[str, Any]) -> str:
    from stackdef.templating import render_template

    return render_template(
        "plan.md.j2",
        plan=plan,
        gpu=_gpu,
        usd=_usd,
        rate=_rate,
        baseline=baseline,
        requests_line=requests_line,
        layer_tables=layer_tables(plan),
        warnings=shown_warnings(plan),
    )


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
            s["summary"],
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
    print_cold_start_table(plan, console)
    for title, columns, rows in layer_tables(plan):
        t = _table(title, columns)
        for row in rows:
            t.add_row(*row)
        console.print(t)
    print_cost_table(plan, console)
    console.print(requests_line(plan))
    for need in plan["cluster_needs"]:
        console.print(f"[bold]the cluster must provide[/bold] {need}")
    for image in plan["images_to_provide"]:
        console.print(f"[bold]build and push before deploy[/bold] {image} (stackdef's Dockerfile; `stackdef up` on kind builds and loads it)")

    if plan["secrets"]:
        console.print("[bold]Secrets to create before deploy[/bold] (values never appear here):")
        for s in plan["secrets"]:
            console.print(f"  {s['name']}: keys {', '.join(s['keys'])} — used by {', '.join(s['used_by']) or 'nothing'}")
    for note in plan["target_notes"]:
        console.print(f"[dim]note: {note}[/dim]")
    for s in plan["services"]:
        for note in s["notes"]:
            console.print(f"[dim]note: {s['name']}: {note}[/dim]")
    for w in shown_warnings(plan):
        console.print(f"[yellow]warning:[/yellow] {w['path']}: {w['problem']}" + (f" ({w['fix']})" if w["fix"] else ""))


_NEEDS = "the cluster must provide "


def shown_warnings(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The warnings a view prints: those the "cluster must provide" lines already say are left out.

    The JSON keeps them all (``validate`` prints them too, where no such lines exist).
    """
    needs = set(plan["cluster_needs"])
    return [w for w in plan["warnings"] if not (w["problem"].startswith(_NEEDS) and f"{w['problem'][len(_NEEDS):]}, for {w['path']}" in needs)]


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
    if not s.get("baseline_is_head_only"):
        return _usd(s["baseline_monthly_usd"])
    return _usd(s["baseline_monthly_usd"]) + (" (head + volume)" if s.get("volumes_monthly_usd") else " (head)")


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
    for p in [*cost["layers"], *cost["cpu_pool"]]:
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
        "GPU memory per GPU (GiB), as vLLM accounts for it",
        ("service", "GPUs", "usable", "weights", "activation", "non-torch", "CUDA graphs", "KV cache", "KV tokens", "max concurrency"),
        numeric=("usable", "weights", "activation", "non-torch", "CUDA graphs", "KV cache", "KV tokens", "max concurrency"),
    )
    for name, z in plan["sizing"].items():
        split = f" (TP {z['tensor_parallel']} × PP {z['pipeline_parallel']})" if z["pipeline_parallel"] > 1 else ""
        t.add_row(
            name,
            f"{z['gpus']}× {z['gpu']}{split}",
            f"{z['usable_gib']:.2f}",
            f"{z['weights_gib']:.2f}",
            f"{z['activation_gib']:.2f}",
            f"{z['non_torch_gib']:.2f}",
            f"{z['cuda_graphs_gib']:.2f}",
            f"{z['kv_cache_gib']:.2f}" + (" (tight)" if z["tight"] else ""),
            f"{z['kv_tokens']:,}",
            f"{z['max_concurrency']:.2f}× {z['max_model_len']} tok",
        )
    console.print(t)


def layer_tables(plan: dict[str, Any]) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
    """Each layer's own tables (Layer.plan_tables), in the plan's layer order."""
    from stackdef import registry

    out = []
    for name, section in plan.get("layers", {}).items():
        out.extend(registry.LAYERS.get(name).plan_tables(section))
    return out


def print_cold_start_table(plan: dict[str, Any], console: Any) -> None:
    if not plan["cold_start"]:
        return
    names = ("node", "image", "weights", "compile", "graphs", "engine")
    t = _table("Cold start from zero replicas (s, estimates; sources in the README)", ("service", *names, "total", "empty cache"), numeric=(*names, "total", "empty cache"))
    for name, c in plan["cold_start"].items():
        by = {x["name"]: x["seconds"] for x in c["terms"]}
        cell = lambda v: "?" if v is None else f"{v:,.0f}"  # noqa: E731
        total = cell(c["total_s"]) if c["total_s"] is not None else f"≥ {c['at_least_s']:,.0f}"
        t.add_row(name, *(cell(by[n]) if n in by else "—" for n in names), total, cell(c["first_start_s"]) if c["first_start_s"] is not None else "—")
    console.print(t)


def cost_markdown(plan: dict[str, Any]) -> str:
    from stackdef.templating import render_template

    return render_template("cost.md.j2", plan=plan, usd=_usd, rate=_rate, baseline=baseline, requests_line=requests_line, warnings=shown_warnings(plan))

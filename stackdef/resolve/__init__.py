"""Resolve: pure decisions taken once, before anything is compiled.

Turns a validated Stack into a :class:`ResolvedStack`. The core here only
orchestrates: each service's kind resolves it (how it runs on the target, GPU
sizing, names, images, replicas, placement) through a shared
:class:`~stackdef.resolve.context.ResolveContext`; each layer resolves its
section; then budgets are applied and the cost figures computed once. No I/O,
no clock, no randomness: the same spec (and price catalog) always resolves the
same way. Problems are raised as :class:`~stackdef.errors.SpecError` naming the field.

Modules: ``model`` (the resolved values), ``context`` (what kinds and layers
share), ``budgets`` (caps and cost figures).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stackdef import registry
from stackdef.catalog.prices import PriceCatalog
from stackdef.errors import SpecError
from stackdef.resolve.budgets import CostBasis, StackCost, apply_budgets, stack_cost, stack_cost_figures, with_costs
from stackdef.resolve.context import INSTANCE_TYPE_LABEL, Collector, ResolveContext
from stackdef.resolve.model import (
    CacheVolume,
    CostFigures,
    Cut,
    Placement,
    PodSet,
    PodSize,
    ResolvedLayer,
    ResolvedService,
    ResolvedStack,
    Sizing,
    WorkerGroup,
)

__all__ = [
    "INSTANCE_TYPE_LABEL",
    "CacheVolume",
    "Collector",
    "CostBasis",
    "CostFigures",
    "Cut",
    "Placement",
    "PodSet",
    "PodSize",
    "ResolveContext",
    "ResolvedLayer",
    "ResolvedService",
    "ResolvedStack",
    "Sizing",
    "StackCost",
    "WorkerGroup",
    "basis_of",
    "resolve",
    "stack_cost",
]


def basis_of(rst: ResolvedStack) -> CostBasis:
    return CostBasis(rst.fixed_hourly_usd, rst.cpu_instance, rst.shared_pods, rst.layers)


def _dedup(items: list[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for item in items:
        seen.setdefault(item.name, item)
    return tuple(seen.values())


def resolve(
    stack: Any,
    code: dict[str, tuple[tuple[str, str], ...]] | None = None,
    prices: PriceCatalog | None = None,
) -> ResolvedStack:
    """Decide everything compile needs. Pure: same input, same output."""
    target = registry.TARGETS.get(stack.target.type)
    ctx = ResolveContext(stack, target, prices or PriceCatalog.default(), code or {}, Collector())
    out = ctx.out
    region_warning = ctx.region_warning()
    if region_warning is not None:
        out.warnings.append(region_warning)
    services: list[ResolvedService] = []
    for i, svc in enumerate(stack.services):
        rs = registry.KINDS.get(svc.type).resolve(ctx, i, svc)
        if rs is not None:
            services.append(rs)
    layers: list[ResolvedLayer] = []
    for name, section in stack.layer_sections():
        rl = registry.LAYERS.get(name).resolve(ctx, section)
        if rl is not None:
            layers.append(rl)
    if out.issues:
        raise SpecError("<stack>", out.issues)
    services = _with_layer_env(services, layers)
    fixed_items = target.fixed_costs(stack.target, ctx.cpu_instance) if ctx.pricing is not None else ()
    fixed = sum(v for _, v in fixed_items)
    operators = _dedup([op for x in (*services, *layers) for op in x.operators])
    shared = tuple(p for op in operators for p in op.pods)
    basis = CostBasis(fixed, ctx.cpu_instance, shared, tuple(layers))
    services = apply_budgets(stack, services, basis, out)
    if out.issues:
        raise SpecError("<stack>", out.issues)
    for rs in services:  # warnings that depend on the replica bounds budgets left
        out.warnings.extend(registry.KINDS.get(rs.kind).final_warnings(rs))
    priced_services, priced_layers = with_costs(services, layers)
    basis = CostBasis(fixed, ctx.cpu_instance, shared, tuple(priced_layers))
    return ResolvedStack(
        stack=stack,
        namespace=stack.resolved_namespace,
        target=target,
        labels=ctx.labels,
        services=tuple(priced_services),
        layers=tuple(priced_layers),
        operators=operators,
        notes=target.notes + tuple(out.notes),
        priced=ctx.pricing,
        fixed_hourly_usd=fixed,
        fixed_items=fixed_items,
        warnings=tuple(out.warnings),
        cpu_instance=ctx.cpu_instance,
        shared_pods=shared,
        cluster_needs=tuple(dict.fromkeys(out.needs)),
        cost=stack_cost_figures(basis, tuple(priced_services), operators),
    )


def _with_layer_env(services: list[ResolvedService], layers: list[ResolvedLayer]) -> list[ResolvedService]:
    """Give each service the environment its layers name for it (sorted: stable manifests)."""
    extra: dict[str, dict[str, str]] = {}
    for rl in layers:
        for name, env in registry.LAYERS.get(rl.name).service_env(rl).items():
            extra.setdefault(name, {}).update(env)
    return [replace(rs, env=tuple(sorted({**dict(rs.env), **extra[rs.name]}.items()))) if rs.name in extra else rs for rs in services]

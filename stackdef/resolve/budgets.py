"""Budgets and the figures every cost view reads, computed once in resolve.

- :class:`StackCost`: the whole stack's monthly cost as replica counts change
  (fixed + GPU nodes + the CPU pool rounded up to whole nodes), O(1) per change.
- :func:`apply_budgets`: service budgets first, then the stack budget, under
  fail / warn / cap.
- :func:`service_cost` / :func:`stack_cost_figures`: the cost figures the plan,
  the price annotations and the diff read (baseline, ceiling, per
  replica-hour, runner-ups on the same terms, the CPU-pool lines).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from stackdef.cost import (
    EPSILON_USD,
    HOURS_PER_MONTH,
    GpuPricing,
    ServiceBill,
    cpu_nodes,
    largest_within,
    money,
    node_fraction,
)
from stackdef.errors import Issue
from stackdef.resolve.context import Collector
from stackdef.resolve.model import (
    CostFigures,
    Cut,
    PodSize,
    PoolLine,
    ResolvedLayer,
    ResolvedService,
    RunnerUp,
    StackCostFigures,
)


@dataclass(frozen=True)
class CostBasis:
    """What the stack's bill adds to its services' and layers' own bills."""

    fixed_hourly_usd: float
    cpu_instance: Any
    shared_pods: tuple[PodSize, ...]
    layers: tuple[ResolvedLayer, ...] = ()


class StackCost:
    """Monthly cost of the whole stack as each service's replica count changes.

    fixed + every service's GPU nodes + the stack's CPU pods packed onto whole
    CPU nodes (:mod:`stackdef.cost`). Running sums make one change O(1), so a
    cap over thousands of services stays linear.
    """

    def __init__(self, basis: CostBasis, bills: dict[int, ServiceBill], replicas: dict[int, int]) -> None:
        self.fixed = basis.fixed_hourly_usd
        self.cpu_instance = basis.cpu_instance
        self.bills = bills
        self.replicas = dict(replicas)
        self.gpu = sum(b.gpu_hourly(replicas[k]) for k, b in bills.items())
        # Volumes cost the same at any replica count: part of the fixed hourly.
        self.fixed += sum(b.storage_hourly for b in bills.values()) + sum(rl.bill.storage_hourly for rl in basis.layers if rl.bill is not None)
        self.cpu = sum(p.load[0] for p in basis.shared_pods)
        self.mem = sum(p.load[1] for p in basis.shared_pods)
        for rl in basis.layers:
            c, m = rl.pods.cpu_load().at(1)
            self.cpu, self.mem = self.cpu + c, self.mem + m
        for k, b in bills.items():
            c, m = b.cpu_load.at(replicas[k])
            self.cpu, self.mem = self.cpu + c, self.mem + m

    def pool_hourly(self, cpu: float, mem: float) -> float:
        if self.cpu_instance is None:
            return 0.0
        return cpu_nodes(self.cpu_instance, cpu, mem) * self.cpu_instance.usd_per_hour

    def pool_nodes(self) -> int:
        return cpu_nodes(self.cpu_instance, self.cpu, self.mem) if self.cpu_instance is not None else 0

    def monthly(self) -> float:
        return (self.fixed + self.gpu + self.pool_hourly(self.cpu, self.mem)) * HOURS_PER_MONTH

    def monthly_with(self, k: int, r: int) -> float:
        """The total if service ``k`` ran ``r`` replicas, the others unchanged."""
        b, old = self.bills[k], self.replicas[k]
        c0, m0 = b.cpu_load.at(old)
        c1, m1 = b.cpu_load.at(r)
        gpu = self.gpu - b.gpu_hourly(old) + b.gpu_hourly(r)
        return (self.fixed + gpu + self.pool_hourly(self.cpu - c0 + c1, self.mem - m0 + m1)) * HOURS_PER_MONTH

    def set(self, k: int, r: int) -> None:
        b, old = self.bills[k], self.replicas[k]
        c0, m0 = b.cpu_load.at(old)
        c1, m1 = b.cpu_load.at(r)
        self.gpu += b.gpu_hourly(r) - b.gpu_hourly(old)
        self.cpu, self.mem = self.cpu - c0 + c1, self.mem - m0 + m1
        self.replicas[k] = r


def stack_cost(basis: CostBasis, services: tuple[ResolvedService, ...] | list[ResolvedService], at_max: bool) -> StackCost:
    """The StackCost of the known-cost services at min or max replicas."""
    bills = {k: rs.sizing.bill for k, rs in enumerate(services) if rs.sizing.bill is not None}
    replicas = {k: (services[k].max_replicas if at_max else services[k].min_replicas) for k in bills}
    return StackCost(basis, bills, replicas)  # type: ignore[arg-type]


def _over(what: str, budget: Any, cost: float, baseline: bool) -> str:
    level = "baseline (min replicas)" if baseline else "ceiling (max replicas)"
    return f"{what} {level} costs ${cost:,.2f}/month, over the ${budget.monthly_usd:,.2f} budget by ${cost - budget.monthly_usd:,.2f}"


def apply_budgets(stack: Any, services: list[ResolvedService], basis: CostBasis, out: Collector) -> list[ResolvedService]:
    """Service budgets first, then the stack budget.

    Under ``cap`` the stack budget is met by lowering max_replicas in reverse
    declaration order (the last service is cut first, each only as far as
    needed and never below min_replicas), so list services most important
    first. Every cut is reported. When some costs are unknown the stack budget
    is checked against the known ones: if those alone exceed it, that is
    reported under the budget's policy.
    """
    result = list(services)
    for k, rs in enumerate(result):
        b = rs.spec.budget
        bill = rs.sizing.bill
        if b is None or bill is None:
            continue
        path = f"services[{rs.index}].budget"
        base = bill.monthly(rs.min_replicas)
        if base > b.monthly_usd + EPSILON_USD:
            out.issues.append(Issue(path, _over(f"service {rs.name!r}", b, base, True), "raise the budget or lower min_replicas"))
            continue
        ceiling = bill.monthly(rs.max_replicas)
        if ceiling <= b.monthly_usd + EPSILON_USD:
            continue
        if b.policy == "fail":
            out.issues.append(Issue(path, _over(f"service {rs.name!r}", b, ceiling, False), "raise the budget, lower max_replicas, or use policy cap"))
        elif b.policy == "warn":
            out.warnings.append(Issue(path, _over(f"service {rs.name!r}", b, ceiling, False), "raise the budget or lower max_replicas"))
        else:
            best = bill.largest_within(b.monthly_usd, rs.min_replicas, rs.max_replicas)
            assert best is not None
            result[k] = rs.with_max(best, Cut(rs.max_replicas, best, money(ceiling - bill.monthly(best)), "service budget"))
    b = stack.budget
    if b is None:
        return result
    unknown = [rs.name for rs in result if rs.sizing.bill is None] + [rl.name for rl in basis.layers if rl.bill is None]
    what = "the stack"
    if unknown:
        what = "the stack (known costs only)"
        out.warnings.append(
            Issue(
                "budget",
                f"costs of {', '.join(unknown[:3])}{' and others' if len(unknown) > 3 else ''} are unknown, "
                "so the stack budget is checked against the known costs only",
                "add prices for the target",
            )
        )
    base = stack_cost(basis, result, False).monthly()
    if base > b.monthly_usd + EPSILON_USD:
        out.issues.append(Issue("budget", _over(what, b, base, True), "raise the budget or lower min_replicas"))
        return result
    cost = stack_cost(basis, result, True)
    ceiling = cost.monthly()
    if ceiling <= b.monthly_usd + EPSILON_USD:
        return result
    if b.policy == "fail":
        out.issues.append(Issue("budget", _over(what, b, ceiling, False), "raise the budget, lower max_replicas, or use policy cap"))
    elif b.policy == "warn":
        out.warnings.append(Issue("budget", _over(what, b, ceiling, False), "raise the budget or lower max_replicas"))
    else:
        for k in sorted(cost.bills, reverse=True):
            rs = result[k]
            best = largest_within(lambda r, k=k: cost.monthly_with(k, r), b.monthly_usd, rs.min_replicas, rs.max_replicas)
            best = rs.min_replicas if best is None else best
            if best < rs.max_replicas:
                bill = cost.bills[k]
                prev = rs.cut.from_replicas if rs.cut else rs.max_replicas
                saved = bill.monthly(rs.max_replicas) - bill.monthly(best) + (rs.cut.saved_monthly_usd if rs.cut else 0)
                result[k] = rs.with_max(best, Cut(prev, best, money(saved), "stack budget"))
                cost.set(k, best)
            if cost.monthly() <= b.monthly_usd + EPSILON_USD:
                break
    return result


def service_cost(rs: ResolvedService) -> CostFigures:
    """A service's cost figures; runner-ups pay the same head, CPU pods and volumes as the choice."""
    sz, bill = rs.sizing, rs.sizing.bill
    per_replica = sz.instance.usd_per_hour / sz.replicas_per_node if sz.instance and sz.replicas_per_node else None
    runner_ups = []
    for o in sz.runner_ups:
        alt = ServiceBill(GpuPricing(o.instance, o.replicas_per_node), bill.cpu_instance, bill.cpu_load, bill.storage_hourly) if bill else None
        runner_ups.append(
            RunnerUp(
                o,
                money(alt.monthly(rs.min_replicas)) if alt else None,
                money(alt.monthly(rs.max_replicas)) if alt else money(o.hourly(rs.max_replicas) * HOURS_PER_MONTH),
            )
        )
    return CostFigures(
        baseline_monthly_usd=money(bill.monthly(rs.min_replicas)) if bill else None,
        ceiling_monthly_usd=money(bill.monthly(rs.max_replicas)) if bill else None,
        usd_per_replica_hour=per_replica,
        # At zero replicas a GPU service still runs (and pays for) its Ray head.
        baseline_is_head_only=bool(rs.gpu_type) and rs.min_replicas == 0 and rs.head is not None,
        runner_ups=tuple(runner_ups),
    )


def layer_cost(rl: ResolvedLayer) -> CostFigures:
    usd = money(rl.bill.monthly(1)) if rl.bill else None
    return CostFigures(usd, usd)


def with_costs(services: list[ResolvedService], layers: list[ResolvedLayer]) -> tuple[list[ResolvedService], list[ResolvedLayer]]:
    return [replace(rs, cost=service_cost(rs)) for rs in services], [replace(rl, cost=layer_cost(rl)) for rl in layers]


def stack_cost_figures(
    basis: CostBasis, services: tuple[ResolvedService, ...], operators: tuple[Any, ...]
) -> StackCostFigures:
    """The stack totals and the CPU-pool lines beyond the services' and layers' own shares."""
    fixed = money(basis.fixed_hourly_usd * HOURS_PER_MONTH)
    known = all(rs.sizing.bill is not None for rs in services) and all(rl.bill is not None for rl in basis.layers)
    if not known:
        return StackCostFigures(None, None, fixed)
    base, ceil = stack_cost(basis, services, False), stack_cost(basis, services, True)
    pool: list[PoolLine] = []
    inst = basis.cpu_instance
    if inst is not None:
        for op in operators:
            c = sum(p.load[0] for p in op.pods)
            m = sum(p.load[1] for p in op.pods)
            usd = money(node_fraction(inst, c, m) * inst.usd_per_hour * HOURS_PER_MONTH)
            pool.append(PoolLine(f"operators ({op.title})", usd, usd))
        shares = []
        for at_max in (False, True):
            s = sum(rs.cost.baseline_monthly_usd if not at_max else rs.cost.ceiling_monthly_usd for rs in services)  # type: ignore[union-attr]
            s += sum(rl.cost.baseline_monthly_usd for rl in basis.layers)  # type: ignore[union-attr,misc]
            s += sum(line.baseline_monthly_usd for line in pool)
            shares.append(s)
        pool.append(
            PoolLine(
                f"CPU nodes rounded to whole {inst.instance_type} ({base.pool_nodes()} at baseline, {ceil.pool_nodes()} at ceiling)",
                money(base.monthly() - basis.fixed_hourly_usd * HOURS_PER_MONTH - shares[0]),
                money(ceil.monthly() - basis.fixed_hourly_usd * HOURS_PER_MONTH - shares[1]),
            )
        )
    return StackCostFigures(money(base.monthly()), money(ceil.monthly()), fixed, tuple(pool))

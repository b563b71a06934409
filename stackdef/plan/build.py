"""Build the :class:`~stackdef.plan.model.Plan` from a compiled stack (pure, offline).

Every figure comes from resolve (cost figures are computed once there); this
module only arranges them, plus the list of resources compile made.
"""

from __future__ import annotations

from typing import Any

from stackdef import registry
from stackdef.compile import CompiledStack
from stackdef.cost import HOURS_PER_MONTH, money
from stackdef.errors import Issue
from stackdef.plan.model import (
    ChartResource,
    ColdStartPlan,
    ColdStartTerm,
    CostPlan,
    CutPlan,
    FixedCost,
    GpuPerReplica,
    ObjectResource,
    Plan,
    PoolCost,
    Replicas,
    Requests,
    RequestsPlan,
    RunnerUpPlan,
    SecretPlan,
    ServiceCost,
    ServicePlan,
    SizingPlan,
    TargetInfo,
    WarningPlan,
    WorkersPlan,
    make,
)
from stackdef.resolve import ResolvedService, ResolvedStack
from stackdef.spec.rules import secret_refs
from stackdef.versions import API_VERSION


def _target(rst: ResolvedStack) -> TargetInfo:
    t = rst.stack.target
    return make(TargetInfo, type=t.type, **{k: getattr(t, k, None) for k in ("region", "cluster_name", "context", "cloud")})


def _service(rs: ResolvedService) -> ServicePlan:
    w = rs.workers
    kind = registry.KINDS.get(rs.kind)
    return make(
        ServicePlan,
        name=rs.name,
        type=rs.kind,
        mode=rs.mode,
        image=rs.image,
        replicas=make(Replicas, min=rs.min_replicas, max=rs.max_replicas, initial=rs.initial_replicas),
        gpu=make(GpuPerReplica, type=rs.gpu_type, per_replica=rs.gpus_per_replica) if rs.gpu_type else None,
        endpoint=rs.endpoint,
        details=kind.plan_details(rs),
        summary=kind.plan_summary(rs),
        workers=make(
        WorkersPlan,
            group=w.name,
            min=w.min_workers,
            max=w.max_workers,
            cpu=w.cpu,
            memory=w.memory,
            gpus=w.gpus,
            node_selector=dict(w.placement.node_selector),
            instance_types=list(w.placement.instance_types),
        )
        if w is not None
        else None,
        notes=list(rs.notes),
    )


def _resources(compiled: CompiledStack) -> list[ChartResource | ObjectResource]:
    out: list[ChartResource | ObjectResource] = []
    for comp in compiled.components:
        for chart in comp.charts:
            out.append(
                make(
        ChartResource,
                    component=comp.name, name=chart.release, namespace=chart.namespace, chart=chart.chart, version=chart.version
                )
            )
        for obj in comp.objects:
            md = obj["metadata"]
            out.append(
                make(
        ObjectResource,
                    component=comp.name,
                    kind=obj["kind"],
                    apiVersion=obj["apiVersion"],
                    name=md["name"],
                    namespace=md.get("namespace"),
                    protected=md.get("annotations", {}).get("stackdef.dev/protect") == "true",
                )
            )
    return out


def _secrets(rst: ResolvedStack) -> list[SecretPlan]:
    stack = rst.stack
    used: dict[str, list[str]] = {s.name: [] for s in stack.secrets}
    for _, owner, ref in secret_refs(stack):
        users = used.setdefault(ref.secret, [])
        if owner not in users:
            users.append(owner)
    return [make(SecretPlan, name=s.name, keys=list(s.keys), used_by=used[s.name], description=s.description) for s in stack.secrets]


def _sizing(rs: ResolvedService) -> SizingPlan:
    m = rs.sizing.memory
    assert m is not None
    w, e = m.worst, m.engine
    gib = lambda b: round(b / 2**30, 2)  # noqa: E731
    return make(
        SizingPlan,
        model=rs.sizing.arch.name if rs.sizing.arch else None,
        gpu=m.gpu,
        gpus=e.gpus,
        tensor_parallel=e.tensor_parallel,
        pipeline_parallel=e.pipeline_parallel,
        max_model_len=e.max_model_len,
        max_num_seqs=e.max_num_seqs,
        max_num_batched_tokens=e.max_num_batched_tokens,
        usable_gib=gib(w.requested),
        weights_gib=gib(w.weights),
        activation_gib=gib(w.activation),
        non_torch_gib=gib(w.non_torch),
        cuda_graphs_gib=gib(w.cuda_graphs),
        kv_cache_gib=gib(w.kv),
        one_request_gib=gib(m.one_request),
        headroom_gib=gib(m.headroom),
        tight=m.tight,
        kv_tokens=m.tokens,
        max_concurrency=round(m.max_concurrency, 2),
    )


def _cold_start(rs: ResolvedService) -> ColdStartPlan:
    c = rs.cold_start
    r0 = lambda x: None if x is None else round(x)  # noqa: E731
    return make(
        ColdStartPlan,
        terms=[make(ColdStartTerm, name=t.name, seconds=r0(t.seconds), basis=t.basis) for t in c.terms],
        total_s=r0(c.total_s),
        at_least_s=round(c.known_s),
        first_start_s=r0(c.first_start_s),
    )


def _service_cost(rs: ResolvedService) -> ServiceCost:
    sz, c = rs.sizing, rs.cost
    assert c is not None
    return make(
        ServiceCost,
        name=rs.name,
        instance_type=sz.instance.instance_type if sz.instance else None,
        gpu=rs.gpu_type,
        gpus_per_replica=rs.gpus_per_replica,
        min_replicas=rs.min_replicas,
        max_replicas=rs.max_replicas,
        replicas_per_node=sz.replicas_per_node,
        usd_per_node_hour=sz.instance.usd_per_hour if sz.instance else None,
        usd_per_replica_hour=round(c.usd_per_replica_hour, 6) if c.usd_per_replica_hour is not None else None,
        baseline_monthly_usd=c.baseline_monthly_usd,
        ceiling_monthly_usd=c.ceiling_monthly_usd,
        baseline_is_head_only=c.baseline_is_head_only,
        volumes_monthly_usd=money(sz.bill.storage_hourly * HOURS_PER_MONTH) if sz.bill is not None else 0.0,
        cut=make(
        CutPlan,
            from_max_replicas=rs.cut.from_replicas,
            to_max_replicas=rs.cut.to_replicas,
            saved_monthly_usd=rs.cut.saved_monthly_usd,
            reason=rs.cut.reason,
        )
        if rs.cut
        else None,
        runner_ups=[
            make(
        RunnerUpPlan,
                instance_type=r.option.instance.instance_type,
                gpu=r.option.instance.gpu or "",
                gpus_per_replica=r.option.gpus_per_replica,
                replicas_per_node=r.option.replicas_per_node,
                usd_per_node_hour=r.option.instance.usd_per_hour,
                baseline_monthly_usd=r.baseline_monthly_usd,
                ceiling_monthly_usd=r.ceiling_monthly_usd,
            )
            for r in c.runner_ups
        ],
    )


def _cost(rst: ResolvedStack) -> CostPlan:
    sc = rst.cost
    assert sc is not None
    local = f"{rst.target_type} (free)" if rst.target.local else None
    return make(
        CostPlan,
        hours_per_month=HOURS_PER_MONTH,
        priced_region="/".join(rst.priced) if rst.priced else local,
        baseline_monthly_usd=sc.baseline_monthly_usd,
        ceiling_monthly_usd=sc.ceiling_monthly_usd,
        fixed_monthly_usd=sc.fixed_monthly_usd,
        fixed=[make(FixedCost, item=label, monthly_usd=money(usd * HOURS_PER_MONTH)) for label, usd in rst.fixed_items],
        cpu_pool=[make(PoolCost, item=p.item, baseline_monthly_usd=p.baseline_monthly_usd, ceiling_monthly_usd=p.ceiling_monthly_usd) for p in sc.pool],
        budget_monthly_usd=rst.stack.budget.monthly_usd if rst.stack.budget else None,
        services=[_service_cost(rs) for rs in rst.services],
        layers=[
            make(PoolCost, item=f"{rl.name} layer", baseline_monthly_usd=rl.cost.baseline_monthly_usd, ceiling_monthly_usd=rl.cost.ceiling_monthly_usd)
            for rl in rst.layers
            if rl.cost is not None
        ],
    )


def _requests(rst: ResolvedStack) -> RequestsPlan:
    out = {}
    for key, at_max in (("baseline", False), ("ceiling", True)):
        cpu, mem, gpus = rst.requests(at_max)
        out[key] = make(Requests, cpu=round(cpu, 3), memory_gib=round(mem, 2), gpus=gpus)
    return make(RequestsPlan, **out)


def build_plan(compiled: CompiledStack, warnings: tuple[Issue, ...] | list[Issue] = ()) -> Plan:
    rst = compiled.resolved
    layers: dict[str, Any] = {}
    for rl in rst.layers:
        layers[rl.name] = registry.LAYERS.get(rl.name).plan_section(rst, rl)
    return make(
        Plan,
        apiVersion=API_VERSION,
        stack=rst.stack.name,
        namespace=rst.namespace,
        target=_target(rst),
        services=[_service(rs) for rs in rst.services],
        resources=_resources(compiled),
        secrets=_secrets(rst),
        sizing={rs.name: _sizing(rs) for rs in rst.services if rs.sizing.memory is not None},
        cold_start={rs.name: _cold_start(rs) for rs in rst.services if rs.cold_start is not None},
        cost=_cost(rst),
        requests=_requests(rst),
        cluster_needs=list(rst.cluster_needs),
        images_to_provide=sorted({image for rl in rst.layers for image in rl.images}),
        target_unsupported=list(rst.unsupported),
        target_notes=[*rst.notes, *(n for rl in rst.layers for n in rl.notes)],
        warnings=[make(WarningPlan, **w.to_dict()) for w in warnings],
        layers=layers,
    )

"""What resolve decides: frozen values every later stage reads (no callbacks, no defaults left).

A :class:`ResolvedService` holds the decisions the core needs for any service
kind (names, replicas, pods, placement, cost); what only its kind needs
(served model name, parallelism, shipped code) is in its ``detail``, a frozen
value the kind defines. Layers resolve to :class:`ResolvedLayer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from stackdef.catalog.models import ModelArch
from stackdef.catalog.prices import Instance
from stackdef.cost import CpuLoad, ServiceBill, pod_size
from stackdef.errors import Issue
from stackdef.memory import Memory
from stackdef.sizing import Option


@dataclass(frozen=True)
class PodSize:
    """Requests (= limits) of one container."""

    cpu: str
    memory: str

    @property
    def load(self) -> tuple[float, float]:
        """(CPUs, GiB)."""
        return pod_size(self.cpu, self.memory)


@dataclass(frozen=True)
class PodSet:
    """Every container a service (or layer) runs: some whatever the replica count, some per replica."""

    fixed: tuple[PodSize, ...] = ()
    per_replica: tuple[PodSize, ...] = ()
    per_replica_gpus: int = 0

    def requests(self, replicas: int) -> tuple[float, float, int]:
        """(CPUs, GiB, GPUs) at ``replicas`` replicas."""
        cpu = sum(p.load[0] for p in self.fixed) + replicas * sum(p.load[0] for p in self.per_replica)
        mem = sum(p.load[1] for p in self.fixed) + replicas * sum(p.load[1] for p in self.per_replica)
        return cpu, mem, replicas * self.per_replica_gpus

    def cpu_load(self) -> CpuLoad:
        """What the CPU node pool carries: replicas on GPU nodes are billed with those nodes instead."""
        fc = sum(p.load[0] for p in self.fixed)
        fm = sum(p.load[1] for p in self.fixed)
        if self.per_replica_gpus:
            return CpuLoad(fc, fm)
        return CpuLoad(fc, fm, sum(p.load[0] for p in self.per_replica), sum(p.load[1] for p in self.per_replica))


@dataclass(frozen=True)
class Placement:
    """Where a pod may run: node selector, tolerations and node-affinity terms."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    #: Node affinity: instance type In these (a GPU family: same GPU, any size that holds a replica).
    instance_types: tuple[str, ...] = ()
    #: Node affinity: instance type NotIn these (CPU pods stay off GPU nodes).
    avoid_instance_types: tuple[str, ...] = ()
    #: Node affinity: these labels DoesNotExist.
    avoid_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheVolume:
    """A persistent volume as it will be created on the target."""

    size: str
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"]
    #: None: the cluster's default StorageClass.
    storage_class: str | None
    #: Read throughput a pod gets from it (a providers.base.Figure, MiB/s); None: unknown.
    read: Any = None
    #: What it costs a month (0 on a local target; None: its StorageClass is not priced).
    monthly_usd: float | None = 0.0


@dataclass(frozen=True)
class WorkerGroup:
    """One Ray worker group: pods of identical shape, one Serve replica each."""

    name: str
    min_workers: int
    max_workers: int
    initial_workers: int
    cpu: str
    memory: str
    gpus: int
    placement: Placement
    #: Ray custom resources the group advertises (KubeRay group ``resources``), e.g.
    #: ``{"accelerator_type:L4": "1"}`` so the autoscaler can place replicas that ask for that GPU type.
    ray_resources: dict[str, str] = field(default_factory=dict)
    #: Size of the pod's memory-backed /dev/shm.
    shm: str = "1Gi"


@dataclass(frozen=True)
class Cut:
    """A budget cap lowered a service's max_replicas."""

    from_replicas: int
    to_replicas: int
    saved_monthly_usd: float
    reason: str


@dataclass(frozen=True)
class Sizing:
    """GPU sizing and pricing of one service (None parts are unknown)."""

    arch: ModelArch | None = None
    #: The memory model of one replica (None: architecture unknown).
    memory: Memory | None = None
    instance: Instance | None = None
    replicas_per_node: int | None = None
    runner_ups: tuple[Option, ...] = ()
    bill: ServiceBill | None = None


@dataclass(frozen=True)
class RunnerUp:
    """Another GPU option for a service, priced on the same terms as the choice."""

    option: Option
    baseline_monthly_usd: float | None
    ceiling_monthly_usd: float


@dataclass(frozen=True)
class CostFigures:
    """A service's or layer's cost, computed once (plan, annotations and diff read these)."""

    baseline_monthly_usd: float | None
    ceiling_monthly_usd: float | None
    #: Price of one replica-hour on its GPU node type (node price / replicas per node).
    usd_per_replica_hour: float | None = None
    #: A scale-to-zero GPU service's baseline is its head only.
    baseline_is_head_only: bool = False
    runner_ups: tuple[RunnerUp, ...] = ()


@dataclass(frozen=True)
class PoolLine:
    """A line of the stack's CPU-pool bill beyond the services' own shares."""

    item: str
    baseline_monthly_usd: float
    ceiling_monthly_usd: float


@dataclass(frozen=True)
class StackCostFigures:
    baseline_monthly_usd: float | None
    ceiling_monthly_usd: float | None
    fixed_monthly_usd: float
    pool: tuple[PoolLine, ...] = ()


@dataclass(frozen=True)
class ResolvedService:
    index: int
    #: The service's spec model.
    spec: Any
    #: Its service kind (the spec's ``type``).
    kind: str
    #: How it runs on this target, as the plan shows it (e.g. ``llm-ray``).
    mode: str
    image: str
    labels: dict[str, str]
    #: Labels that select this service's pods (Services, NetworkPolicies).
    selector: dict[str, str]
    names: dict[str, str]
    min_replicas: int
    max_replicas: int
    initial_replicas: int
    gpu_type: str | None
    gpus_per_replica: int
    workers: WorkerGroup | None
    #: Every container the service runs (requests totals and the CPU-pool bill read this).
    pods: PodSet = field(default_factory=PodSet)
    #: Operators its components need (KubeRay for RayServices).
    operators: tuple[Any, ...] = ()
    notes: tuple[str, ...] = ()
    sizing: Sizing = field(default_factory=Sizing)
    cut: Cut | None = None
    #: Ray head pod (RayService modes); its autoscaler sidecar is in ``pods``.
    head: PodSize | None = None
    #: Ray CPUs the head offers (the OpenAI ingress of an LLM runs there).
    head_ray_cpus: int = 0
    #: Where head and CPU workers may run.
    cpu_placement: Placement = field(default_factory=Placement)
    cache: CacheVolume | None = None
    #: Seconds the deploy edge waits for this service's pods to become ready.
    ready_timeout_s: int | None = None
    #: In-cluster HTTP endpoint.
    endpoint: str = ""
    #: Filled once budgets are applied.
    cost: CostFigures | None = None
    #: Zero to a first ready replica (a stackdef.coldstart.ColdStart), where the kind estimates it.
    cold_start: Any = None
    #: Environment layers give the service's pods (e.g. the feature server's address), sorted.
    env: tuple[tuple[str, str], ...] = ()
    #: The kind's own decided values.
    detail: Any = None

    @property
    def name(self) -> str:
        return self.spec.name

    def with_max(self, new_max: int, cut: Cut) -> ResolvedService:
        """The same service with max_replicas lowered by a budget cap."""
        initial = min(self.initial_replicas, new_max)
        workers = replace(self.workers, max_workers=new_max, initial_workers=initial) if self.workers else None
        return replace(self, max_replicas=new_max, initial_replicas=initial, workers=workers, cut=cut)


@dataclass(frozen=True)
class ResolvedLayer:
    """A layer's decisions: its pods (billed in the CPU pool), endpoints and the kind-free detail."""

    name: str
    spec: Any
    pods: PodSet = field(default_factory=PodSet)
    bill: ServiceBill | None = None
    operators: tuple[Any, ...] = ()
    notes: tuple[str, ...] = ()
    #: Images that must exist in a registry before deploy.
    images: tuple[str, ...] = ()
    cost: CostFigures | None = None
    detail: Any = None


@dataclass(frozen=True)
class ResolvedStack:
    stack: Any
    namespace: str
    #: The TargetPlan of ``stack.target.type``.
    target: Any
    labels: dict[str, str]
    services: tuple[ResolvedService, ...]
    layers: tuple[ResolvedLayer, ...] = ()
    #: Operators to install, in first-use order.
    operators: tuple[Any, ...] = ()
    notes: tuple[str, ...] = ()
    #: Cloud and region prices come from, if any.
    priced: tuple[str, str] | None = None
    fixed_hourly_usd: float = 0.0
    fixed_items: tuple[tuple[str, float], ...] = ()
    warnings: tuple[Issue, ...] = ()
    #: CPU node type the stack's CPU pods are packed onto (None: unpriced or local).
    cpu_instance: Instance | None = None
    #: Pods shared by the stack (operators).
    shared_pods: tuple[PodSize, ...] = ()
    #: Things the cluster must provide before deploy (StorageClasses, drivers).
    cluster_needs: tuple[str, ...] = ()
    cost: StackCostFigures | None = None

    @property
    def target_type(self) -> str:
        return self.target.name

    @property
    def unsupported(self) -> tuple[str, ...]:
        return tuple(self.target.features.names_unsupported())

    def requests(self, at_max: bool) -> tuple[float, float, int]:
        """(CPUs, GiB, GPUs) requested by every pod of the stack, at min or max replicas."""
        cpu = sum(p.load[0] for p in self.shared_pods)
        mem = sum(p.load[1] for p in self.shared_pods)
        gpus = 0
        for rs in self.services:
            c, m, g = rs.pods.requests(rs.max_replicas if at_max else rs.min_replicas)
            cpu, mem, gpus = cpu + c, mem + m, gpus + g
        for rl in self.layers:
            c, m, g = rl.pods.requests(1)
            cpu, mem, gpus = cpu + c, mem + m, gpus + g
        return cpu, mem, gpus

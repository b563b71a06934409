"""The billing rule, applied everywhere (cost, budget caps, node-pool sizing).

- A month is 730 hours; prices are on-demand USD per hour from the catalog.
- GPU replicas are packed onto whole nodes of the chosen instance type
  (``replicas_per_node`` of them per node, see :mod:`stackdef.sizing`) and the
  node count is rounded up: ``nodes(r) = ceil(r / replicas_per_node)``.
- CPU pods of the whole stack (Ray heads with their autoscaler sidecars,
  CPU-only model replicas, the operators) share a pool of the provider's CPU
  node type, sized by their summed CPU and memory requests against node
  allocatable and rounded up to whole nodes.
- A service's bill is its GPU nodes plus its pods' share of that pool
  (``max(cpu / allocatable cpu, memory / allocatable memory)`` of a node); the
  stack total rounds the pool up to whole nodes, shown as its own line.
- Baseline = every service at ``min_replicas``; ceiling = at ``max_replicas``.
  Scale-to-zero services have a zero GPU baseline (their head still runs).
- Persistent volumes (model caches, the data layer's volumes) are billed with their service or
  layer at their StorageClass's monthly price (:mod:`stackdef.catalog.storage`), whatever the
  replica count.
- Cluster fixed costs come from the provider (control-plane fee, system nodes
  for kube-system).
- Fractional-GPU instances are never chosen by the planner.
- Every cost is non-decreasing in the replica count, so budget caps search it
  by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from stackdef.catalog.prices import NODE_RESERVED_CPU, Instance
from stackdef.quantity import parse_bytes, parse_quantity

HOURS_PER_MONTH = 730

#: Each node keeps NODE_RESERVED_CPU (one CPU) and this memory for kubelet,
#: system daemons and DaemonSets; the rest is shared by the pods packed on it
#: (requests must fit allocatable). An engineering allowance close to what
#: EKS/GKE/AKS reserve on 8–64 GiB nodes.
NODE_RESERVED_MEMORY_FRACTION = 0.10
NODE_RESERVED_MEMORY_GIB = 1.0
#: Costs equal to within this many dollars are equal (price files carry float noise).
EPSILON_USD = 1e-6


def allocatable_cpu(inst: Instance) -> int:
    return inst.vcpu - NODE_RESERVED_CPU


def allocatable_memory_gib(inst: Instance) -> float:
    return inst.ram_gib * (1 - NODE_RESERVED_MEMORY_FRACTION) - NODE_RESERVED_MEMORY_GIB


def replicas_per_node(inst: Instance, gpus: int, cpu: float, memory_gib: float) -> int:
    """GPU replicas one node holds: limited by its GPUs and by each pod's CPU and memory requests."""
    by_gpu = inst.whole_gpus // gpus
    by_cpu = int(allocatable_cpu(inst) // cpu)
    by_mem = int(allocatable_memory_gib(inst) // memory_gib)
    return max(0, min(by_gpu, by_cpu, by_mem))


@dataclass(frozen=True)
class GpuPricing:
    """How one service's GPU replicas are billed."""

    instance: Instance
    replicas_per_node: int

    def nodes(self, replicas: int) -> int:
        return math.ceil(replicas / self.replicas_per_node) if replicas else 0

    def hourly(self, replicas: int) -> float:
        return self.nodes(replicas) * self.instance.usd_per_hour

    @property
    def usd_per_replica_hour(self) -> float:
        return self.instance.usd_per_hour / self.replicas_per_node


def node_fraction(cpu_instance: Instance, cpu: float, memory_gib: float) -> float:
    """Share of one CPU node that pods requesting ``cpu`` and ``memory_gib`` take."""
    return max(cpu / allocatable_cpu(cpu_instance), memory_gib / allocatable_memory_gib(cpu_instance), 0.0)


def cpu_nodes(cpu_instance: Instance, cpu: float, memory_gib: float) -> int:
    """Whole CPU nodes for pods requesting ``cpu`` and ``memory_gib`` in total."""
    return math.ceil(node_fraction(cpu_instance, cpu, memory_gib) - 1e-9)


@dataclass(frozen=True)
class CpuLoad:
    """CPU pods of one service (or of the stack's operators): fixed ones (head) plus per-replica ones."""

    fixed_cpu: float
    fixed_memory_gib: float
    per_replica_cpu: float = 0.0
    per_replica_memory_gib: float = 0.0

    def at(self, replicas: int) -> tuple[float, float]:
        return (
            self.fixed_cpu + self.per_replica_cpu * replicas,
            self.fixed_memory_gib + self.per_replica_memory_gib * replicas,
        )


def pod_size(cpu: str, memory: str) -> tuple[float, float]:
    return parse_quantity(cpu), parse_bytes(memory) / 2**30


@dataclass(frozen=True)
class ServiceBill:
    """Hourly cost of one service as a function of its replica count."""

    gpu: GpuPricing | None
    cpu_instance: Instance | None
    cpu_load: CpuLoad
    #: Its persistent volumes, whatever the replica count (USD per hour).
    storage_hourly: float = 0.0

    def gpu_hourly(self, replicas: int) -> float:
        return self.gpu.hourly(replicas) if self.gpu else 0.0

    def cpu_hourly(self, replicas: int) -> float:
        if self.cpu_instance is None:
            return 0.0
        return node_fraction(self.cpu_instance, *self.cpu_load.at(replicas)) * self.cpu_instance.usd_per_hour

    def hourly(self, replicas: int) -> float:
        return self.gpu_hourly(replicas) + self.cpu_hourly(replicas) + self.storage_hourly

    def monthly(self, replicas: int) -> float:
        return self.hourly(replicas) * HOURS_PER_MONTH

    def largest_within(self, budget_monthly: float, lo: int, hi: int) -> int | None:
        """Largest replica count in [lo, hi] whose monthly cost fits the budget."""
        return largest_within(self.monthly, budget_monthly, lo, hi)


def largest_within(cost: Callable[[int], float], budget: float, lo: int, hi: int) -> int | None:
    """Largest r in [lo, hi] with cost(r) ≤ budget, for a non-decreasing cost; None if even lo is over.

    Bisection: O(log(hi − lo)) evaluations, so a max_replicas of 2**31 − 1 costs ~31 of them.
    """
    if cost(lo) > budget + EPSILON_USD:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= budget + EPSILON_USD:
            lo = mid
        else:
            hi = mid - 1
    return lo


def money(x: float) -> float:
    return round(x, 2)

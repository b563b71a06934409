"""The billing rule, applied everywhere (cost, budget caps, node-pool sizing).

- A month is 730 hours; prices are on-demand USD per hour from the catalog.
- GPU replicas are packed onto whole nodes of the chosen instance type
  (``replicas_per_node`` of them per node, see :mod:`stackdef.sizing`) and the
  node count is rounded up: ``nodes(r) = ceil(r / replicas_per_node)``.
- CPU pods of a service (the Ray head, which runs even at zero replicas, and
  CPU-only model replicas) are packed onto the provider's CPU node type the
  same way, by requested CPU and memory against node allocatable.
- Baseline = every service at ``min_replicas``; ceiling = at ``max_replicas``.
  Scale-to-zero services have a zero GPU baseline.
- Cluster fixed costs come from the provider (control-plane fee, system nodes).
- Fractional-GPU instances are never chosen by the planner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stackdef.catalog.prices import Instance
from stackdef.quantity import parse_bytes, parse_quantity

HOURS_PER_MONTH = 730

#: Each node keeps this for kubelet, system daemons and DaemonSets; the rest
#: is shared by the pods packed on it (requests must fit allocatable). An
#: engineering allowance close to what EKS/GKE/AKS reserve on 8–64 GiB nodes.
NODE_RESERVED_CPU = 1
NODE_RESERVED_MEMORY_FRACTION = 0.10
NODE_RESERVED_MEMORY_GIB = 1.0


def allocatable_memory_gib(inst: Instance) -> float:
    return inst.ram_gib * (1 - NODE_RESERVED_MEMORY_FRACTION) - NODE_RESERVED_MEMORY_GIB


def replicas_per_node(inst: Instance, gpus: int, cpu: float, memory_gib: float) -> int:
    """GPU replicas one node holds: limited by its GPUs and by each pod's CPU and memory requests."""
    by_gpu = inst.whole_gpus // gpus
    by_cpu = int((inst.vcpu - NODE_RESERVED_CPU) // cpu)
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


def cpu_nodes(cpu_instance: Instance, cpu: float, memory_gib: float) -> int:
    if cpu <= 0 and memory_gib <= 0:
        return 0
    by_cpu = cpu / (cpu_instance.vcpu - NODE_RESERVED_CPU)
    by_mem = memory_gib / allocatable_memory_gib(cpu_instance)
    return math.ceil(max(by_cpu, by_mem) - 1e-9)


@dataclass(frozen=True)
class CpuLoad:
    """CPU pods of one service: fixed ones (head) plus per-replica ones."""

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

    def hourly(self, replicas: int) -> float:
        total = self.gpu.hourly(replicas) if self.gpu else 0.0
        if self.cpu_instance is not None:
            cpu, mem = self.cpu_load.at(replicas)
            total += cpu_nodes(self.cpu_instance, cpu, mem) * self.cpu_instance.usd_per_hour
        return total

    def monthly(self, replicas: int) -> float:
        return self.hourly(replicas) * HOURS_PER_MONTH

    def largest_within(self, budget_monthly: float, lo: int, hi: int) -> int | None:
        """Largest replica count in [lo, hi] whose monthly cost fits the budget."""
        best = None
        for r in range(lo, hi + 1):
            if self.monthly(r) <= budget_monthly + 1e-9:
                best = r
        return best


def money(x: float) -> float:
    return round(x, 2)

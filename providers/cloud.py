"""What eks, gke and aks share until their clusters can be created (a later release)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from stackdef.providers.base import CpuPlacement, Features, Refusing, TargetPlan

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.spec.base import DNS1123_LABEL, GpuNodes, _Base

#: Price-catalog cloud of each managed-Kubernetes target.
CLOUD_OF = {"eks": "aws", "gke": "gcp", "aks": "azure"}


class _CloudTarget(_Base):
    region: str = Field(pattern=r"^[a-z]+(-[a-z0-9]+)+$|^[a-z]+[0-9]?$", description="Cloud region.")
    cluster_name: str | None = Field(
        None, pattern=DNS1123_LABEL, max_length=40, description="Cluster name; default: the stack name."
    )
    gpu_nodes: GpuNodes | None = Field(
        None, description="Override how GPU nodes are labelled and tainted (default: the cloud's own labels)."
    )


def cloud_features(name: str) -> Features:
    return Features(
        {
            "create_cluster": f"creating {name} clusters comes in a later stackdef release",
            "deploy": (
                f"creating {name} clusters comes in a later stackdef release; plan and render work today, and to "
                f"deploy to a cluster you already run on {name}, use target type 'existing' with its kubeconfig and context"
            ),
        }
    )


class CloudPlan(TargetPlan):
    """Shared behaviour; each cloud declares its control-plane fee as data."""

    #: (label, USD per cluster-hour): EKS and GKE $0.10/h (AWS EKS pricing, GKE pricing pages); AKS Free tier $0.
    control_plane: ClassVar[tuple[str, float]]
    #: CPU nodes always running for kube-system and DaemonSets.
    system_nodes: ClassVar[int] = 1
    #: Column of stackdef.catalog.gpus.GpuType naming the GPUs this cloud offers (None: not tracked).
    gpu_column: ClassVar[str | None] = None
    place_by_instance_type = True

    def pricing_key(self, target: Any) -> tuple[str, str] | None:
        return CLOUD_OF[self.name], target.region

    def fixed_costs(self, target: Any, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        items = [self.control_plane]
        if cpu_instance is not None:
            items.append(
                (f"{self.system_nodes} system node(s) {cpu_instance.instance_type}", self.system_nodes * cpu_instance.usd_per_hour)
            )
        return tuple(items)

    def gpu_offered(self, gpu: str) -> tuple[str, ...] | None:
        if self.gpu_column is None or getattr(GPU_TYPES[gpu], self.gpu_column) is not None:
            return None
        return tuple(g.name for g in GPU_TYPES.values() if getattr(g, self.gpu_column))

    def cpu_placement(self, gpu_instance_types: tuple[str, ...]) -> CpuPlacement:
        return CpuPlacement(avoid_instance_types=gpu_instance_types)


def refusing_connector(plan: TargetPlan) -> Refusing:
    """Until cluster creation lands, every deploy call on a cloud target says why not."""
    return Refusing(plan.features.reason("deploy"))

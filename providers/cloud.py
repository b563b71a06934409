"""What eks, gke and aks share until their clusters can be created (a later release)."""

from __future__ import annotations

from typing import Any

from stackdef.providers.base import Capabilities, ClusterConnection
from stackdef.errors import UnsupportedError


def cloud_capabilities(name: str) -> Capabilities:
    return Capabilities(
        gpus=True,
        create_cluster=False,
        rwx_storage=True,
        scale_to_zero=True,
        deploy=False,
        deploy_blocker=(
            f"creating {name} clusters comes in a later stackdef release; plan and render work today, and to "
            f"deploy to a cluster you already run on {name}, use target type 'existing' with its kubeconfig and context"
        ),
        notes=(f"{name}: plan and render only; cluster creation comes in a later release",),
    )


class CloudProvider:
    """Shared behaviour; each cloud declares its control-plane fee as data."""

    name: str
    capabilities: Capabilities
    #: (label, USD per cluster-hour): EKS and GKE $0.10/h (AWS EKS pricing, GKE pricing pages); AKS Free tier $0.
    control_plane: tuple[str, float]
    #: CPU nodes always running for kube-system, the operators and DaemonSets.
    system_nodes: int = 1

    def fixed_costs(self, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        items = [self.control_plane]
        if cpu_instance is not None:
            items.append(
                (f"{self.system_nodes} system node(s) {cpu_instance.instance_type}", self.system_nodes * cpu_instance.usd_per_hour)
            )
        return tuple(items)

    def preflight(self) -> None:
        raise UnsupportedError(self.capabilities.deploy_blocker)

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        raise UnsupportedError(self.capabilities.deploy_blocker)

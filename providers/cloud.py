"""What eks, gke and aks share until their clusters can be created (a later release)."""

from __future__ import annotations

from typing import Any

from providers.base import Capabilities, ClusterConnection
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
    name: str
    capabilities: Capabilities

    def preflight(self) -> None:
        raise UnsupportedError(self.capabilities.deploy_blocker)

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        raise UnsupportedError(self.capabilities.deploy_blocker)

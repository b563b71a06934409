"""An ``onprem`` target: a bare-metal cluster with a flat per-node price (not part of stackdef)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from stackdef.providers.base import (
    ClusterConnection,
    Features,
    NodePlacement,
    StorageClassChoice,
    StorageDefaults,
    TargetPlan,
)

from stackdef.spec.base import _Base


class OnpremTarget(_Base):
    """A bare-metal cluster priced from a CSV."""

    type: Literal["onprem"] = Field(description="Discriminator: an on-prem cluster.")
    site: str = Field(description="Price-catalog region of the site.")


class OnpremPlan(TargetPlan):
    name = "onprem"
    spec = OnpremTarget
    features = Features({"create_cluster": "racks are not provisioned by stackdef", "deploy": "test-only target"})
    storage = StorageDefaults(read_write_once=StorageClassChoice("local", builtin=True), read_write_many=None)

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return NodePlacement({"site.example.com/gpu": gpu.lower()}, ())

    def pricing_key(self, target: Any) -> tuple[str, str] | None:
        return "onprem", target.site

    def fixed_costs(self, target: Any, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        return (("rack lease", 1.0),)


class OnpremConnector:
    def preflight(self) -> None:
        return None

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        return ClusterConnection(kubeconfig="apiVersion: v1\nkind: Config\n", context="onprem")

    def check_capacity(self, connection: ClusterConnection, requests: dict[str, Any]) -> str | None:
        return None

"""Cluster targets: one file per target and an explicit registry.

``get(name)`` returns the provider for a spec's ``target.type``; an unknown
name is an error that lists the valid ones. Providers never import Pulumi:
they return data (placement, capabilities, a :class:`ClusterConnection`) and
the deploy edge turns it into a Kubernetes provider.
"""

from __future__ import annotations

from stackdef.providers.aks import AksProvider
from stackdef.providers.base import Capabilities, ClusterConnection, NodePlacement, Provider
from stackdef.providers.eks import EksProvider
from stackdef.providers.existing import ExistingProvider
from stackdef.providers.gke import GkeProvider
from stackdef.providers.kind import KindProvider

REGISTRY: dict[str, Provider] = {
    p.name: p for p in (KindProvider(), ExistingProvider(), EksProvider(), GkeProvider(), AksProvider())
}


def get(name: str) -> Provider:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a valid target among [{', '.join(REGISTRY)}]") from None


__all__ = ["Capabilities", "ClusterConnection", "NodePlacement", "Provider", "REGISTRY", "get"]

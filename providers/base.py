"""The provider protocol: what a cluster target must tell stackdef.

A provider is small on purpose (httpx-style): the pure part answers how GPU
nodes are selected and what the target cannot do — as data, so `plan` can say
it offline — and the deploy part (issue 3, ``stackdef.deploy``) returns a
Kubernetes provider for the Pulumi edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Capabilities:
    """What a target can do; each False is a feature it declares unsupported.

    ``deploy`` False means `up` / `preview` / `destroy` refuse the target
    (with ``deploy_blocker`` as the reason) before touching anything.
    """

    gpus: bool
    create_cluster: bool
    rwx_storage: bool
    scale_to_zero: bool
    deploy: bool = True
    deploy_blocker: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def unsupported(self) -> list[str]:
        names = ("gpus", "create_cluster", "rwx_storage", "scale_to_zero", "deploy")
        return [name for name in names if not getattr(self, name)]


@dataclass(frozen=True)
class ClusterConnection:
    """How the deploy edge reaches the cluster: kubeconfig (path or content) and context."""

    kubeconfig: str | None = None
    context: str | None = None
    description: str = ""


@dataclass(frozen=True)
class NodePlacement:
    """Node selector and tolerations for GPU worker pods."""

    node_selector: dict[str, str]
    tolerations: tuple[dict[str, Any], ...]


class Provider(Protocol):
    name: str
    capabilities: Capabilities

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement: ...

    def fixed_costs(self, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        """(label, USD/hour) the cluster costs whatever runs on it (control plane, system nodes)."""

    def preflight(self) -> None:
        """Raise MissingToolError when a CLI the target needs is absent (before anything runs)."""

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        """Connection to the target's cluster; with ``create``, make the cluster first if the target can."""


def placement_from_gpu_nodes(gpu_nodes: Any, gpu: str, default_values: dict[str, str | None]) -> NodePlacement:
    """Placement from a spec ``GpuNodes`` block (label key + per-GPU values + extra labels)."""
    selector: dict[str, str] = {}
    if gpu_nodes.label_key:
        value = gpu_nodes.label_values.get(gpu) or default_values.get(gpu)
        if value:
            selector[gpu_nodes.label_key] = value
    selector.update(gpu_nodes.labels)
    tolerations = tuple(
        {k: v for k, v in (("key", t.key), ("operator", t.operator), ("value", t.value), ("effect", t.effect)) if v is not None}
        for t in gpu_nodes.tolerations
    )
    return NodePlacement(dict(sorted(selector.items())), tolerations)

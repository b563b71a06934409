"""The provider protocol: what a cluster target must tell stackdef.

A provider is small on purpose (httpx-style): the pure part answers how GPU
nodes are selected and what the target cannot do — as data, so `plan` can say
it offline — and the deploy part (issue 3, ``stackdef.deploy``) returns a
Kubernetes provider for the Pulumi edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stackdef.errors import UsageError


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
class StorageClassChoice:
    """The StorageClass a target uses for one access mode, and whether the platform ships it."""

    #: None: the cluster's default StorageClass (no storageClassName).
    name: str | None
    #: True when every cluster of this target has it out of the box.
    builtin: bool
    #: What the cluster must provide when it is not built in (shown by `plan`).
    needs: str = ""


@dataclass(frozen=True)
class StorageDefaults:
    """Per access mode, the StorageClass model caches get unless the spec names one."""

    read_write_once: StorageClassChoice
    #: None when the target cannot offer ReadWriteMany volumes at all.
    read_write_many: StorageClassChoice | None


@dataclass(frozen=True)
class ClusterConnection:
    """How the deploy edge reaches the cluster: kubeconfig (path or content) and context."""

    kubeconfig: str | None = None
    context: str | None = None
    description: str = ""


class ClusterNotFound(UsageError):
    """``connect(create=False)`` found no cluster to connect to."""

    def __init__(self, what: str, hint: str):
        self.what = what
        super().__init__(f"{what} does not exist ({hint})")


@dataclass(frozen=True)
class NodePlacement:
    """Node selector and tolerations for GPU worker pods."""

    node_selector: dict[str, str]
    tolerations: tuple[dict[str, Any], ...]


class Provider(Protocol):
    name: str
    capabilities: Capabilities
    storage: StorageDefaults

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

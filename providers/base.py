"""The two halves of a cluster target, like an HTTP transport's.

- :class:`TargetPlan` is pure data and arithmetic: the target's spec model,
  the features it supports (each unsupported one with its reason, as
  SkyPilot's clouds declare them), how GPU nodes are labelled and tainted,
  where prices come from, fixed costs, storage classes. Resolve, compile and
  plan read only this half.
- :class:`TargetConnector` does I/O: pre-flight checks of the CLIs a target
  needs, connecting to (or creating) its cluster, checking its capacity. Only
  the deploy edge (``stackdef.deploy``) calls it.

A new target is one file in ``providers/`` with its spec model, a plan and a
connector, registered in ``providers/__init__.py`` (or by a plug-in with
:func:`stackdef.registry.register_target`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from stackdef.errors import UsageError

#: Every feature a target may lack. Core code asks ``plan.supports(name)``.
FEATURES = ("gpus", "create_cluster", "rwx_storage", "scale_to_zero", "deploy")


@dataclass(frozen=True)
class Features:
    """The features a target does not support, each with the reason (shown by `plan`)."""

    unsupported: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.unsupported) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown feature(s) {sorted(unknown)} (features: {', '.join(FEATURES)})")

    def supports(self, name: str) -> bool:
        return name not in self.unsupported

    def reason(self, name: str) -> str:
        return self.unsupported.get(name, "")

    def names_unsupported(self) -> list[str]:
        return [f for f in FEATURES if f in self.unsupported]


@dataclass(frozen=True)
class Figure:
    """A planning figure and the published source it rests on (shown by `plan`, listed in the README)."""

    label: str
    value: float
    source: str


@dataclass(frozen=True)
class StorageClassChoice:
    """The StorageClass a target uses for one access mode, and whether the platform ships it."""

    #: None: the cluster's default StorageClass (no storageClassName).
    name: str | None
    #: True when every cluster of this target has it out of the box.
    builtin: bool
    #: What the cluster must provide when it is not built in (shown by `plan`).
    needs: str = ""
    #: Read throughput one pod gets (MiB/s), for cold starts from a model cache; None: unknown.
    read: Figure | None = None


@dataclass(frozen=True)
class StorageDefaults:
    """Per access mode, the StorageClass model caches get unless the spec names one."""

    read_write_once: StorageClassChoice
    #: None when the target cannot offer ReadWriteMany volumes at all.
    read_write_many: StorageClassChoice | None


@dataclass(frozen=True)
class NodePlacement:
    """Node selector and tolerations for GPU worker pods."""

    node_selector: dict[str, str]
    tolerations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CpuPlacement:
    """How CPU pods (Ray heads, CPU workers, layer pods) keep off GPU nodes."""

    #: Node affinity: instance type NotIn these.
    avoid_instance_types: tuple[str, ...] = ()
    #: Node affinity: these labels DoesNotExist.
    avoid_labels: tuple[str, ...] = ()


class TargetPlan:
    """The pure half of a target: what resolve, compile and plan need to know."""

    #: ``target.type`` in the spec.
    name: ClassVar[str]
    #: The spec model (with ``type: Literal[name]``).
    spec: ClassVar[type[BaseModel]]
    features: ClassVar[Features] = Features()
    notes: ClassVar[tuple[str, ...]] = ()
    storage: ClassVar[StorageDefaults]
    #: The cluster runs on the user's machine: pods are sized for a laptop and nothing is billed.
    local: ClassVar[bool] = False
    #: GPU workers are placed by instance type (the GPU's family from the price catalog).
    place_by_instance_type: ClassVar[bool] = False
    #: Seconds from a pending GPU pod to a node that can run it, term by term with sources;
    #: () when no node has to start (kind), None when stackdef cannot know (an existing cluster).
    gpu_node_start: ClassVar[tuple[Figure, ...] | None] = None

    def supports(self, feature: str) -> bool:
        return self.features.supports(feature)

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        """Node selector and tolerations for a worker of ``gpu``."""
        raise NotImplementedError

    def gpu_offered(self, gpu: str) -> tuple[str, ...] | None:
        """None if ``gpu`` may be used here (or it is unknown), else the GPU types that are offered."""
        return None

    def pricing_key(self, target: Any) -> tuple[str, str] | None:
        """(cloud, region) of the price catalog rows that apply, if any."""
        return None

    def fixed_costs(self, target: Any, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        """(label, USD/hour) the cluster costs whatever runs on it (control plane, system nodes)."""
        return ()

    def cpu_placement(self, gpu_instance_types: tuple[str, ...]) -> CpuPlacement:
        """Where CPU pods may go, given the catalog's GPU instance types for this target's cloud."""
        return CpuPlacement()


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


class TargetConnector(Protocol):
    """The I/O half of a target, used only by the deploy edge."""

    def preflight(self) -> None:
        """Raise MissingToolError when a CLI the target needs is absent (before anything runs)."""

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        """Connection to the target's cluster; with ``create``, make the cluster first if the target can."""

    def check_capacity(self, connection: ClusterConnection, requests: dict[str, Any]) -> str | None:
        """Raise UsageError when the stack's pods cannot start there; a note when it could not tell."""

    def provide_images(self, connection: ClusterConnection, target: Any, images: list[str]) -> list[str]:
        """Make images the stack builds itself (``plan``'s images_to_provide) available to the cluster,
        or say what the user must do; returns lines to show. Clouds pull them from their registry."""


def registry_images_note(images: list[str]) -> list[str]:
    """What a connector whose cluster pulls from registries says about images stackdef does not publish."""
    return [f"the cluster pulls {image}: build it from stackdef's Dockerfile and push it there first" for image in images]


class Refusing:
    """A connector for targets whose deploy feature is unsupported: every call says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def preflight(self) -> None:
        from stackdef.errors import UnsupportedError

        raise UnsupportedError(self.reason)

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        from stackdef.errors import UnsupportedError

        raise UnsupportedError(self.reason)

    def check_capacity(self, connection: ClusterConnection, requests: dict[str, Any]) -> str | None:
        return None

    def provide_images(self, connection: ClusterConnection, target: Any, images: list[str]) -> list[str]:
        return registry_images_note(images)


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

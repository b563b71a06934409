"""An existing cluster reached through a kubeconfig; GPU labels come from the spec."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from stackdef.providers.base import (
    ClusterConnection,
    CpuPlacement,
    Features,
    NodePlacement,
    StorageClassChoice,
    StorageDefaults,
    TargetPlan,
    placement_from_gpu_nodes,
    registry_images_note,
)

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.errors import UsageError
from stackdef.spec.base import GpuNodes, _Base

#: GPU Feature Discovery (GPU operator) marks GPU nodes with it; CPU pods keep off nodes that carry it.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"


class ExistingTarget(_Base):
    """Any cluster reachable with a kubeconfig."""

    type: Literal["existing"] = Field(description="Discriminator: an existing cluster.")
    kubeconfig: str | None = Field(
        None, description="Path to the kubeconfig file; default: $KUBECONFIG or ~/.kube/config."
    )
    context: str | None = Field(None, description="kubeconfig context; default: current context.")
    gpu_nodes: GpuNodes = Field(
        default_factory=GpuNodes, description="How GPU nodes are labelled and tainted on this cluster."
    )
    cloud: Literal["aws", "gcp", "azure"] | None = Field(
        None, description="Cloud the cluster runs on, for pricing only."
    )
    region: str | None = Field(None, description="Cloud region, for pricing only.")


class ExistingPlan(TargetPlan):
    name = "existing"
    spec = ExistingTarget
    features = Features({"create_cluster": "stackdef connects to this cluster; it does not create it"})
    notes = ("the cluster must already run the NVIDIA device plugin on its GPU nodes",)
    storage = StorageDefaults(
        read_write_once=StorageClassChoice(None, builtin=False, needs="a default StorageClass (set model_cache.storage_class to name one)"),
        read_write_many=StorageClassChoice(
            None,
            builtin=False,
            needs="a default StorageClass that supports ReadWriteMany (set model_cache.storage_class to name one)",
        ),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return placement_from_gpu_nodes(target.gpu_nodes, gpu, {n: g.gfd for n, g in GPU_TYPES.items()})

    def pricing_key(self, target: Any) -> tuple[str, str] | None:
        return (target.cloud, target.region) if target.cloud and target.region else None

    def cpu_placement(self, gpu_instance_types: tuple[str, ...]) -> CpuPlacement:
        return CpuPlacement(avoid_labels=(GPU_PRESENT_LABEL,))


class ExistingConnector:
    def preflight(self) -> None:
        return None

    def check_capacity(self, connection: ClusterConnection, requests: dict[str, Any]) -> str | None:
        return None

    def provide_images(self, connection: ClusterConnection, target: Any, images: list[str]) -> list[str]:
        return registry_images_note(images)

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        path = target.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        first = Path(os.path.expanduser(path.split(os.pathsep)[0]))
        if not first.is_file():
            raise UsageError(f"kubeconfig {str(first)!r} does not exist (set target.kubeconfig or KUBECONFIG)")
        return ClusterConnection(
            kubeconfig=first.read_text(encoding="utf-8"),
            context=target.context,
            description=f"existing cluster ({first}{', context ' + target.context if target.context else ''})",
        )

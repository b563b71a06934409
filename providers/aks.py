"""Azure AKS. GPU nodes show the label ``accelerator=nvidia`` (not per GPU
model) and the docs' convention taints them ``sku=gpu:NoSchedule``
(azure-aks-docs ``use-nvidia-gpu.md``). To tell GPU models apart, set
``target.gpu_nodes`` (e.g. a node-pool label).

Storage: AKS ships ``managed-csi`` (Azure Disk, ReadWriteOnce) and
``azurefile-csi`` (Azure Files, ReadWriteMany) with every cluster."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from stackdef.providers.base import Figure, NodePlacement, StorageClassChoice, StorageDefaults, placement_from_gpu_nodes
from stackdef.providers.cloud import CloudPlan, _CloudTarget, cloud_features

from stackdef.spec.base import GpuNodes, Toleration


class AksTarget(_CloudTarget):
    """Azure AKS. Planned and rendered; cluster creation comes later."""

    type: Literal["aks"] = Field(description="Discriminator: Azure AKS.")


DEFAULT_GPU_NODES = GpuNodes(
    label_key=None,
    labels={"accelerator": "nvidia"},
    tolerations=[
        Toleration(key="sku", operator="Equal", value="gpu"),
        Toleration(key="nvidia.com/gpu"),
    ],
)


class AksPlan(CloudPlan):
    name = "aks"
    spec = AksTarget
    features = cloud_features("aks")
    notes = ("aks: plan and render only; cluster creation comes in a later release",)
    control_plane = ("AKS Free tier control plane", 0.0)
    gpu_column = "aks"
    storage = StorageDefaults(
        read_write_once=StorageClassChoice("managed-csi", builtin=True),
        read_write_many=StorageClassChoice("azurefile-csi", builtin=True),
    )
    gpu_node_start = (
        Figure("cluster autoscaler waits before scaling up for GPU pods", 30, "Azure/AKS#5573 (2026-01-26): GPU scale-up starts after 30 s"),
        Figure("GPU node provisioned", 284, "kaito-project/kaito#2325 (2026-09-07): Standard_NC24ads_A100_v4, 284 s"),
        Figure("GPU node initialized (driver, device plugin)", 126, "kaito-project/kaito#2325 (2026-09-07): 126 s"),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return placement_from_gpu_nodes(target.gpu_nodes or DEFAULT_GPU_NODES, gpu, {})

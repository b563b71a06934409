"""Google GKE Standard. GPU nodes carry ``cloud.google.com/gke-accelerator``;
GKE taints them ``nvidia.com/gpu=present:NoSchedule`` when the cluster also has
CPU pools (GKE "Run GPUs in Standard node pools").

Storage: ``standard-rwo`` (Persistent Disk) is built in; ReadWriteMany needs
the Filestore CSI driver enabled, which creates ``standard-rwx`` (Filestore
Basic HDD instances start at 1 TiB)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from stackdef.providers.base import Figure, NodePlacement, StorageClassChoice, StorageDefaults, placement_from_gpu_nodes
from stackdef.providers.cloud import CloudPlan, _CloudTarget, cloud_features

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.spec.base import GpuNodes


class GkeTarget(_CloudTarget):
    """Google GKE Standard. Planned and rendered; cluster creation comes later."""

    type: Literal["gke"] = Field(description="Discriminator: Google GKE.")


DEFAULT_GPU_NODES = GpuNodes(label_key="cloud.google.com/gke-accelerator")


class GkePlan(CloudPlan):
    name = "gke"
    spec = GkeTarget
    features = cloud_features("gke")
    notes = ("gke: plan and render only; cluster creation comes in a later release",)
    control_plane = ("GKE cluster management fee (free-tier credit not applied)", 0.10)
    gpu_column = "gke"
    storage = StorageDefaults(
        read_write_once=StorageClassChoice("standard-rwo", builtin=True),
        read_write_many=StorageClassChoice(
            "standard-rwx",
            builtin=False,
            needs="the Filestore CSI driver enabled on the cluster (it creates standard-rwx; a Filestore Basic HDD instance is at least 1 TiB)",
            read=Figure("Filestore Basic HDD read (1–10 TiB)", 100, "cloud.google.com/filestore/docs/performance: BASIC_HDD 100 MiB/s"),
        ),
    )
    gpu_node_start = (
        Figure("cluster autoscaler waits before scaling up for GPU pods", 30, "kubernetes/autoscaler static_autoscaler.go: unschedulablePodWithGpuTimeBuffer = 30 s"),
        Figure("GPU VM created and registered", 270, "codalab/codalab-worksheets#4042 (2022-03-06): VM up in 4.5 minutes"),
        Figure("GPU allocatable after Ready (device plugin)", 60, "cloudpilot-ai/karpenter-provider-gcp#148 (2025-11-09): about a minute"),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return placement_from_gpu_nodes(target.gpu_nodes or DEFAULT_GPU_NODES, gpu, {n: g.gke for n, g in GPU_TYPES.items()})

"""Amazon EKS. GPU nodes are found by Karpenter's well-known label
``karpenter.k8s.aws/instance-gpu-name`` (aws/karpenter-provider-aws
``pkg/apis/v1/labels.go``); EKS adds no GPU taint by itself, so the
``nvidia.com/gpu`` toleration is harmless where node groups are untainted and
needed where the docs' recipe taints them."""

from __future__ import annotations

from typing import Any

from providers.base import NodePlacement, placement_from_gpu_nodes
from providers.cloud import CloudProvider, cloud_capabilities
from stackdef.catalog.gpus import GPU_TYPES
from stackdef.spec.models import GpuNodes

DEFAULT_GPU_NODES = GpuNodes(label_key="karpenter.k8s.aws/instance-gpu-name")


class EksProvider(CloudProvider):
    name = "eks"
    capabilities = cloud_capabilities("eks")
    control_plane = ("EKS control plane, standard support", 0.10)

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return placement_from_gpu_nodes(target.gpu_nodes or DEFAULT_GPU_NODES, gpu, {n: g.eks for n, g in GPU_TYPES.items()})

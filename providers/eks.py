"""Amazon EKS.

GPU workers are placed by instance type alone (``node.kubernetes.io/instance-type``,
which the kubelet sets on every node, whether it comes from a managed node
group, Karpenter or self-managed groups): Karpenter's
``karpenter.k8s.aws/instance-gpu-name`` exists only on Karpenter nodes and
``nvidia.com/gpu.product`` only where the GPU operator runs GPU Feature
Discovery. EKS adds no GPU taint by itself, so the ``nvidia.com/gpu``
toleration is harmless where node groups are untainted and needed where the
docs' recipe taints them.

Storage: EKS ≥ 1.30 ships no default StorageClass, and EBS volumes are
ReadWriteOnce, so a shared model cache needs the EFS CSI driver and a class
(AWS's examples call it ``efs-sc``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from stackdef.providers.base import Figure, NodePlacement, StorageClassChoice, StorageDefaults, placement_from_gpu_nodes
from stackdef.providers.cloud import CloudPlan, _CloudTarget, cloud_features

from stackdef.spec.base import GpuNodes


class EksTarget(_CloudTarget):
    """Amazon EKS (GPU nodes placed by instance type). Planned and rendered; cluster creation comes later."""

    type: Literal["eks"] = Field(description="Discriminator: Amazon EKS.")


DEFAULT_GPU_NODES = GpuNodes(label_key=None)


class EksPlan(CloudPlan):
    name = "eks"
    spec = EksTarget
    features = cloud_features("eks")
    notes = ("eks: plan and render only; cluster creation comes in a later release",)
    control_plane = ("EKS control plane, standard support", 0.10)
    gpu_column = "eks"
    storage = StorageDefaults(
        read_write_once=StorageClassChoice(
            "ebs-sc",
            builtin=False,
            needs="the EBS CSI driver add-on and a StorageClass named ebs-sc (EKS ships no default class)",
            read=Figure("EBS gp3 baseline", 125, "AWS EC2 API reference, ModifyVolume Throughput: gp3 default 125 MiB/s"),
        ),
        read_write_many=StorageClassChoice(
            "efs-sc",
            builtin=False,
            needs="the EFS CSI driver add-on and a StorageClass named efs-sc (EBS cannot do ReadWriteMany)",
            read=Figure(
                "EFS per-client read",
                500,
                "Amazon EFS quotas: 500 MiB/s per client (1,500 with Elastic throughput and efs-utils 2.0+)",
            ),
        ),
    )
    gpu_node_start = (
        Figure("Karpenter launches a node to Ready", 40, "aws/karpenter-provider-aws#6165 (maintainer, 2024-05-09): 30–40 s"),
        Figure(
            "GPU allocatable after Ready (device plugin)",
            60,
            "cloudpilot-ai/karpenter-provider-gcp#148 (2025-11-09): about a minute; GPU AMIs boot slower (awslabs/amazon-eks-ami#1099)",
        ),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return placement_from_gpu_nodes(target.gpu_nodes or DEFAULT_GPU_NODES, gpu, {})

"""GPU types stackdef knows, keyed by Ray's accelerator-type name.

The key is the ``accelerator_type`` Ray gives a node with that GPU: a constant in
``ray.util.accelerators``, or (A10) the name Ray derives from the GPU's NVML name;
A100-40G / A100-80G are Ray's sized names, which a node only has when declared
(stackdef declares them on its worker groups). Tests check every key against Ray.
The per-cloud columns are the node-label values each provisioner puts on GPU
nodes (sources per label below):

- ``eks``: Karpenter well-known label ``karpenter.k8s.aws/instance-gpu-name``
  (lower-case short names, e.g. ``l40s``, ``t4``).
- ``gke``: ``cloud.google.com/gke-accelerator`` (e.g. ``nvidia-l4``).
- ``gfd``: NVIDIA GPU Feature Discovery ``nvidia.com/gpu.product`` (the NVML
  name with spaces turned into ``-``), used for existing clusters by default.
- ``aks``: the Azure VM series with that GPU (AKS labels GPU nodes only
  ``accelerator=nvidia``). NCads A100 v4, NVads A10 v5 and ND H100 v5 were read
  in MicrosoftDocs/azure-docs ``sizes/gpu-accelerated`` (ms.date 2024-07-31);
  NCasT4_v3, NDasrA100_v4 and ND H200 v5 are Azure's published series names,
  not read in a primary source here.

``None`` means the cloud offers no node with that GPU.

``usable_mib`` is the memory a workload can use per GPU, in MiB, the smaller of
what EC2's DescribeInstanceTypes reports (as published by Karpenter in
``instance-types.md``) and what nvidia-smi reports (published measurements,
cited per GPU): e.g. 22,888 MiB for an L4, 15,360 MiB for a T4, not the nominal
24 / 16 GB. Where neither is published (H200, B200) it is the nominal size,
marked ``nominal``.

Price rows name their GPU in free text ("NVIDIA A100 40GB (nvidia-tesla-a100)");
``PRICE_ROW_GPUS`` maps every such text in stackdef's data to a GPU type or
excludes it with a reason. A user's price file may also name the GPU type itself.
"""

from __future__ import annotations

from dataclasses import dataclass

_EC2 = "EC2 DescribeInstanceTypes instance-gpu-memory via karpenter-provider-aws instance-types.md (2026-07-11)"
_SMI = "nvidia-smi total as measured by Modal, modal-labs/modal-client#2797 (2025-01-23)"
_SMI_A10 = _SMI + "; NVML Total 24146608128 B = 23028 MiB in mayooot/detect-gpu#3 (2025-04-22)"


@dataclass(frozen=True)
class GpuType:
    name: str
    memory_gb: int
    eks: str | None
    gke: str | None
    gfd: str | None
    usable_mib: int
    usable_source: str
    #: The name NVML reports; Ray derives a node's ``accelerator_type`` from it
    #: (``NvidiaGPUAcceleratorManager._gpu_name_to_accelerator_type``).
    nvml_name: str
    #: Azure VM series that carry this GPU (Azure docs, sizes/gpu-accelerated), or None.
    aks: str | None
    #: What to write as Ray Serve LLM's ``accelerator_type``; None where Ray Serve LLM
    #: would rewrite it (see A10 below), so replicas are placed by node labels instead.
    serve_llm_type: str | None
    #: CUDA compute capability (NVIDIA's CUDA GPUs table); vLLM's dtype and kernel rules read it.
    compute_capability: tuple[int, int]

    @property
    def usable_gib(self) -> float:
        return self.usable_mib / 1024


_GPUS = (
    GpuType("T4", 16, "t4", "nvidia-tesla-t4", "Tesla-T4", 15360, _SMI, "Tesla T4", "NCasT4_v3", "T4", (7, 5)),
    GpuType("A10G", 24, "a10g", None, "NVIDIA-A10G", 22888, _EC2, "NVIDIA A10G", None, "A10G", (8, 6)),
    # Azure's A10 (not AWS's A10G). Ray detects an A10 node as accelerator_type "A10", but Ray
    # Serve LLM turns an "A10" accelerator_type into "A10G" (LLMConfig.validate_accelerator_type),
    # which no A10 node has: an LLM replica asking for it would never be placed.
    GpuType("A10", 24, None, None, "NVIDIA-A10", 23028, _SMI_A10, "NVIDIA A10", "NVadsA10_v5", None, (8, 6)),
    GpuType("L4", 24, "l4", "nvidia-l4", "NVIDIA-L4", 22888, _EC2 + " (nvidia-smi shows 23034 MiB, " + _SMI + ")", "NVIDIA L4", None, "L4", (8, 9)),
    GpuType("L40S", 48, "l40s", None, "NVIDIA-L40S", 46068, _SMI, "NVIDIA L40S", None, "L40S", (8, 9)),
    GpuType("A100-40G", 40, "a100", "nvidia-tesla-a100", "NVIDIA-A100-SXM4-40GB", 40960, _EC2, "NVIDIA A100-SXM4-40GB", "NDasrA100_v4", "A100-40G", (8, 0)),
    GpuType("A100-80G", 80, "a100", "nvidia-a100-80gb", "NVIDIA-A100-SXM4-80GB", 81920, _SMI, "NVIDIA A100-SXM4-80GB", "NCads_A100_v4", "A100-80G", (8, 0)),
    GpuType("H100", 80, "h100", "nvidia-h100-80gb", "NVIDIA-H100-80GB-HBM3", 81559, _SMI + " (EC2 reports 81920 MiB)", "NVIDIA H100 80GB HBM3", "NDisr_H100_v5", "H100", (9, 0)),
    GpuType("H200", 141, "h200", "nvidia-h200-141gb", "NVIDIA-H200", 141 * 1024, "nominal 141 GiB (no published measurement found)", "NVIDIA H200", "NDisr_H200_v5", "H200", (9, 0)),
    GpuType("B200", 180, "b200", "nvidia-b200", "NVIDIA-B200", 180 * 1024, "nominal 180 GiB (no published measurement found)", "NVIDIA B200", None, "B200", (10, 0)),
)

GPU_TYPES: dict[str, GpuType] = {g.name: g for g in _GPUS}
GPU_NAMES: tuple[str, ...] = tuple(GPU_TYPES)


@dataclass(frozen=True)
class Excluded:
    """A price row's GPU that the planner never uses, and why."""

    reason: str


#: Every ``gpu_model`` text in stackdef's price data: the GPU type it is, or why it is left out.
#: Exact matches only (a test reads every row of data/gpu_prices.csv against this table).
PRICE_ROW_GPUS: dict[str, str | Excluded] = {
    "NVIDIA A10G": "A10G",
    "NVIDIA A10": "A10",
    "NVIDIA A10 (partition)": Excluded("a fraction of one GPU (NVIDIA vGPU partition): vLLM and Ray need whole GPUs"),
    "NVIDIA L4": "L4",
    "NVIDIA L4 (nvidia-l4)": "L4",
    "NVIDIA A100 (40GB)": "A100-40G",
    "NVIDIA A100 40GB (nvidia-tesla-a100)": "A100-40G",
    "NVIDIA A100 80GB PCIe": "A100-80G",
    "NVIDIA H100 (80GB)": "H100",
    "NVIDIA H100 80GB (nvidia-h100-80gb)": "H100",
    "NVIDIA H100 80GB (NVLink)": "H100",
}


def gpu_from_price_row(model: str) -> str | Excluded | None:
    """The GPU type of a price row's ``gpu_model``: a catalog row's text or a GPU type name; None if unknown."""
    if model in PRICE_ROW_GPUS:
        return PRICE_ROW_GPUS[model]
    return model if model in GPU_TYPES else None

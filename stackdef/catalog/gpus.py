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

``usable_mib`` is the memory vLLM budgets from, in MiB: the total CUDA reports
(``cudaMemGetInfo``; vLLM's ``ceil(total × gpu_memory_utilization)``), the lowest
value published for current drivers (it moves a few MiB between driver releases),
cited per GPU — e.g. 22,487 MiB for an L4 and 14,909 for a T4, below nvidia-smi's
23,034 / 15,360 and the nominal 24 / 16 GB. ``nvml_total_mib`` is nvidia-smi's
(NVML's) total, which vLLM's batch defaults compare with 70 GiB.

Price rows name their GPU in free text ("NVIDIA A100 40GB (nvidia-tesla-a100)");
``PRICE_ROW_GPUS`` maps every such text in stackdef's data to a GPU type or
excludes it with a reason. A user's price file may also name the GPU type itself.
"""

from __future__ import annotations

from dataclasses import dataclass

_CUDA = "the total CUDA reports (cudaMemGetInfo, what vLLM budgets from), lowest seen on current drivers"
_SMI = "nvidia-smi total measured by Modal, modal-labs/modal-client#2797 (2025-01-23)"


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
    #: NVML's (nvidia-smi's) total when it differs from ``usable_mib``; vLLM's batch defaults read it.
    nvml_total_mib: int | None = None

    @property
    def usable_gib(self) -> float:
        return self.usable_mib / 1024

    @property
    def nvml_mib(self) -> int:
        return self.nvml_total_mib or self.usable_mib


_GPUS = (
    GpuType("T4", 16, "t4", "nvidia-tesla-t4", "Tesla-T4", 14909,
            _CUDA + ": 14.56 GiB in torch OOMs on Tesla T4 (Zheng-Chong/CatVTON#133, 2025-11-25; AlphaGPU/leetgpu-challenges#52)",
            "Tesla T4", "NCasT4_v3", "T4", (7, 5), 15360),
    GpuType("A10G", 24, "a10g", None, "NVIDIA-A10G", 22517,
            _CUDA + ": 21.99 GiB on NVIDIA A10G, driver 535 (vllm-project/vllm#8073, 2024-09-02)",
            "NVIDIA A10G", None, "A10G", (8, 6), 23028),
    # Azure's A10 (not AWS's A10G). Ray detects an A10 node as accelerator_type "A10", but Ray
    # Serve LLM turns an "A10" accelerator_type into "A10G" (LLMConfig.validate_accelerator_type),
    # which no A10 node has: an LLM replica asking for it would never be placed.
    GpuType("A10", 24, None, None, "NVIDIA-A10", 22517,
            _CUDA + ": 21.99 GiB on a Lambda A10 (zai-org/CogVLM#236, 2023-12-22); no Azure figure published",
            "NVIDIA A10", "NVadsA10_v5", None, (8, 6), 23028),
    GpuType("L4", 24, "l4", "nvidia-l4", "NVIDIA-L4", 22487,
            _CUDA + ": 21.96 GiB on AWS g6 and GCP L4 (torch OOMs in SageMaker notes, 2025-02-18); 22.05 in vLLM's CI (vllm-project/vllm#20214)",
            "NVIDIA L4", None, "L4", (8, 9), 23034),
    GpuType("L40S", 48, "l40s", None, "NVIDIA-L40S", 45455,
            _CUDA + ": 44.39–44.53 GiB on L40S (Wan-Video/Wan2.1#205, 2025-03-07: 44.53)",
            "NVIDIA L40S", None, "L40S", (8, 9), 46068),
    GpuType("A100-40G", 40, "a100", "nvidia-tesla-a100", "NVIDIA-A100-SXM4-40GB", 40335,
            _CUDA + ": 39.39 GiB on A100-SXM4-40GB (NERSC sc24-dl-tutorial, Nov 2024)",
            "NVIDIA A100-SXM4-40GB", "NDasrA100_v4", "A100-40G", (8, 0), 40960),
    GpuType("A100-80G", 80, "a100", "nvidia-a100-80gb", "NVIDIA-A100-SXM4-80GB", 81039,
            _CUDA + ": 79.14–79.15 GiB on A100 80GB PCIe / SXM4, drivers 535–550 (deviceQuery 81,038–81,051 MB)",
            "NVIDIA A100-SXM4-80GB", "NCads_A100_v4", "A100-80G", (8, 0), 81920),
    GpuType("H100", 80, "h100", "nvidia-h100-80gb", "NVIDIA-H100-80GB-HBM3", 81080,
            _CUDA + ": 79.18–79.21 GiB on H100 80GB HBM3 (vLLM's 'total_memory=79.19GiB', llm-d-incubation/llm-d-planner v0.19.0 logs)",
            "NVIDIA H100 80GB HBM3", "NDisr_H100_v5", "H100", (9, 0), 81559),
    GpuType("H200", 141, "h200", "nvidia-h200-141gb", "NVIDIA-H200", 143155,
            _CUDA + ": 139.80 GiB on 8×H200 (prime-rl BENCHMARKS.md, Jan 2026)",
            "NVIDIA H200", "NDisr_H200_v5", "H200", (9, 0), 143771),
    GpuType("B200", 180, "b200", "nvidia-b200", "NVIDIA-B200", 182630,
            _CUDA + ": 178.35 GiB on B200 (stas00/ml-engineering)",
            "NVIDIA B200", None, "B200", (10, 0), 183359),
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

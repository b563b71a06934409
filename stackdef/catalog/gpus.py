"""GPU types stackdef knows, keyed by Ray's accelerator-type name.

The key is exactly the string Ray uses for ``accelerator_type`` (constants in
``ray.util.accelerators``; a test checks every key against Ray's own list), so
a spec value can be passed to Ray Serve LLM unchanged. The per-cloud columns
are the node-label values each provisioner puts on GPU nodes
(shared/REFERENCES.md §5):

- ``eks``: Karpenter well-known label ``karpenter.k8s.aws/instance-gpu-name``
  (lower-case short names, e.g. ``l40s``, ``t4``).
- ``gke``: ``cloud.google.com/gke-accelerator`` (e.g. ``nvidia-l4``).
- ``gfd``: NVIDIA GPU Feature Discovery ``nvidia.com/gpu.product`` (the NVML
  name with spaces turned into ``-``), used for existing clusters by default.

``None`` means the cloud offers no node with that GPU in stackdef's catalog.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuType:
    name: str
    memory_gb: int
    eks: str | None
    gke: str | None
    gfd: str | None


_GPUS = (
    GpuType("T4", 16, "t4", "nvidia-tesla-t4", "Tesla-T4"),
    GpuType("A10G", 24, "a10g", None, "NVIDIA-A10G"),
    GpuType("L4", 24, "l4", "nvidia-l4", "NVIDIA-L4"),
    GpuType("L40S", 48, "l40s", None, "NVIDIA-L40S"),
    GpuType("A100-40G", 40, "a100", "nvidia-tesla-a100", "NVIDIA-A100-SXM4-40GB"),
    GpuType("A100-80G", 80, "a100", "nvidia-a100-80gb", "NVIDIA-A100-SXM4-80GB"),
    GpuType("H100", 80, "h100", "nvidia-h100-80gb", "NVIDIA-H100-80GB-HBM3"),
    GpuType("H200", 141, "h200", "nvidia-h200-141gb", "NVIDIA-H200"),
    GpuType("B200", 180, "b200", "nvidia-b200", "NVIDIA-B200"),
)

GPU_TYPES: dict[str, GpuType] = {g.name: g for g in _GPUS}
GPU_NAMES: tuple[str, ...] = tuple(GPU_TYPES)

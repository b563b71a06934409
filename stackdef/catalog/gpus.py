"""GPU types stackdef knows, keyed by Ray's accelerator-type name.

The key is exactly the string Ray uses for ``accelerator_type`` (constants in
``ray.util.accelerators``; a test checks every key against Ray's own list), so
a spec value can be passed to Ray Serve LLM unchanged. The per-cloud columns
are the node-label values each provisioner puts on GPU nodes
(sources per label below):

- ``eks``: Karpenter well-known label ``karpenter.k8s.aws/instance-gpu-name``
  (lower-case short names, e.g. ``l40s``, ``t4``).
- ``gke``: ``cloud.google.com/gke-accelerator`` (e.g. ``nvidia-l4``).
- ``gfd``: NVIDIA GPU Feature Discovery ``nvidia.com/gpu.product`` (the NVML
  name with spaces turned into ``-``), used for existing clusters by default.

``usable_mib`` is the memory a workload can use per GPU, in MiB. Where EC2's
DescribeInstanceTypes reports it (as published by Karpenter in
``instance-types.md``, cited per row in ``data/gpu_prices.csv``) that figure is
used — e.g. 22,888 MiB for an A10G or L4, not the nominal 24 GB. Elsewhere it
is the nominal size in MiB, marked ``nominal``.

``None`` means the cloud offers no node with that GPU in stackdef's catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

_EC2 = "EC2 DescribeInstanceTypes instance-gpu-memory via karpenter-provider-aws instance-types.md (2026-07-11)"


@dataclass(frozen=True)
class GpuType:
    name: str
    memory_gb: int
    eks: str | None
    gke: str | None
    gfd: str | None
    usable_mib: int
    usable_source: str

    @property
    def usable_gib(self) -> float:
        return self.usable_mib / 1024


_GPUS = (
    GpuType("T4", 16, "t4", "nvidia-tesla-t4", "Tesla-T4", 16 * 1024, "nominal 16 GiB"),
    GpuType("A10G", 24, "a10g", None, "NVIDIA-A10G", 22888, _EC2),
    GpuType("L4", 24, "l4", "nvidia-l4", "NVIDIA-L4", 22888, _EC2),
    GpuType("L40S", 48, "l40s", None, "NVIDIA-L40S", 48 * 1024, "nominal 48 GiB"),
    GpuType("A100-40G", 40, "a100", "nvidia-tesla-a100", "NVIDIA-A100-SXM4-40GB", 40960, _EC2),
    GpuType("A100-80G", 80, "a100", "nvidia-a100-80gb", "NVIDIA-A100-SXM4-80GB", 81920, "nominal 80 GiB (as EC2 reports for 80 GB parts)"),
    GpuType("H100", 80, "h100", "nvidia-h100-80gb", "NVIDIA-H100-80GB-HBM3", 81920, _EC2),
    GpuType("H200", 141, "h200", "nvidia-h200-141gb", "NVIDIA-H200", 141 * 1024, "nominal 141 GiB"),
    GpuType("B200", 180, "b200", "nvidia-b200", "NVIDIA-B200", 180 * 1024, "nominal 180 GiB"),
)

GPU_TYPES: dict[str, GpuType] = {g.name: g for g in _GPUS}
GPU_NAMES: tuple[str, ...] = tuple(GPU_TYPES)


def gpu_from_price_row(model: str) -> str | None:
    """Map a price row's GPU model text ("NVIDIA A100 (40GB)", "NVIDIA L4 (nvidia-l4)") to a GPU name."""
    text = model.upper().replace(" ", "")
    if "(PARTITION)" in text:
        return None
    for key, name in (
        ("A100(40GB)", "A100-40G"),
        ("A10040GB", "A100-40G"),
        ("A10080GB", "A100-80G"),
        ("H10080GB", "H100"),
        ("H100(80GB)", "H100"),
        ("A10G", "A10G"),
        ("L40S", "L40S"),
        ("L4", "L4"),
        ("T4", "T4"),
        ("H200", "H200"),
        ("B200", "B200"),
    ):
        if key in text:
            return name
    return model if model in GPU_TYPES else None

"""An existing cluster reached through a kubeconfig; GPU labels come from the spec."""

from __future__ import annotations

from typing import Any

from providers.base import Capabilities, NodePlacement, placement_from_gpu_nodes
from stackdef.catalog.gpus import GPU_TYPES


class ExistingProvider:
    name = "existing"
    capabilities = Capabilities(
        gpus=True,
        create_cluster=False,
        rwx_storage=True,
        scale_to_zero=True,
        notes=("the cluster must already run the NVIDIA device plugin on its GPU nodes",),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        return placement_from_gpu_nodes(target.gpu_nodes, gpu, {n: g.gfd for n, g in GPU_TYPES.items()})

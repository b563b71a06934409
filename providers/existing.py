"""An existing cluster reached through a kubeconfig; GPU labels come from the spec."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stackdef.providers.base import (
    Capabilities,
    ClusterConnection,
    NodePlacement,
    StorageClassChoice,
    StorageDefaults,
    placement_from_gpu_nodes,
)
from stackdef.catalog.gpus import GPU_TYPES
from stackdef.errors import UsageError


class ExistingProvider:
    name = "existing"
    capabilities = Capabilities(
        gpus=True,
        create_cluster=False,
        rwx_storage=True,
        scale_to_zero=True,
        notes=("the cluster must already run the NVIDIA device plugin on its GPU nodes",),
    )

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

    def fixed_costs(self, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        return ()

    def preflight(self) -> None:
        return None

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

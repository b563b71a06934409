"""kind: a local cluster in containers. CPU profile only; costs nothing."""

from __future__ import annotations

from typing import Any

from providers.base import Capabilities, NodePlacement


class KindProvider:
    name = "kind"
    capabilities = Capabilities(
        gpus=False,
        create_cluster=True,
        rwx_storage=False,
        scale_to_zero=False,
        notes=(
            "LLM services run the CPU profile: a plain vLLM CPU Deployment with a small model, one replica",
            "kind's local-path storage is ReadWriteOnce only",
        ),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        raise ValueError("kind has no GPUs (stackdef compiles the CPU profile for kind)")

"""The stack spec (pydantic models, no I/O) and its cross-field rules.

``Stack`` is assembled from the registered service kinds, layers and targets
(:mod:`stackdef.spec.stack`); the built-in kinds' and targets' models are
re-exported here so a Python spec needs one import line. The re-exports are
resolved on first use, so importing ``stackdef.spec.base`` from a kind never
imports every kind.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    **dict.fromkeys(
        ("Accelerator", "CpuProfile", "EngineArgs", "LLMService", "ModelArchitecture", "ModelCache", "WorkerSize"),
        "stackdef.kinds.llm.spec",
    ),
    **dict.fromkeys(("ImageCode", "LocalCode", "ModelService", "RemoteCode", "ReplicaResources"), "stackdef.kinds.model.spec"),
    "EksTarget": "stackdef.providers.eks",
    "GkeTarget": "stackdef.providers.gke",
    "AksTarget": "stackdef.providers.aks",
    "ExistingTarget": "stackdef.providers.existing",
    "KindTarget": "stackdef.providers.kind",
    **dict.fromkeys(
        ("Autoscaling", "Budget", "GpuNodes", "Network", "Pricing", "SecretDecl", "SecretRef", "Toleration"), "stackdef.spec.base"
    ),
    **dict.fromkeys(("StackBase", "stack_model"), "stackdef.spec.stack"),
}


def __getattr__(name: str) -> Any:
    if name == "Stack":
        # Rebuilt when a plug-in registers, so it is looked up each time, not bound once.
        from stackdef.spec.stack import stack_model

        return stack_model()
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'stackdef.spec' has no attribute {name!r}")


__all__ = sorted([*_EXPORTS, "Stack"])  # noqa: PLE0605 (lazy exports: the names live in _EXPORTS)

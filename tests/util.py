"""Helpers shared by the tests: repo paths, blueprint variants, spec builders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

#: Every blueprint variant whose rendered output is pinned by golden files.
BLUEPRINTS = {
    "reference-kind": str(REPO / "blueprints/reference"),
    "reference-eks": str(REPO / "blueprints/reference/stack_eks.py"),
}

BASE_SPEC: dict[str, Any] = {
    "apiVersion": "stackdef.dev/v1alpha1",
    "kind": "Stack",
    "name": "demo",
    "target": {"type": "eks", "region": "us-east-1"},
    "secrets": [{"name": "hf-token", "keys": ["token"]}],
    "services": [
        {
            "type": "llm",
            "name": "chat",
            "source": "Qwen/Qwen2.5-7B-Instruct",
            "engine": {"dtype": "bfloat16", "max_model_len": 8192},
            "accelerator": {"type": "L4", "gpus_per_replica": 1},
            "autoscaling": {"min_replicas": 0, "max_replicas": 4, "target_ongoing_requests": 16},
            "hf_token": {"secret": "hf-token", "key": "token"},
            "model_cache": {"size": "50Gi"},
        },
        {
            "type": "model",
            "name": "sentiment",
            "import_path": "sentiment:app",
            "deployment": "Sentiment",
            "autoscaling": {"min_replicas": 1, "max_replicas": 3},
        },
    ],
}


def spec(**changes: Any) -> dict[str, Any]:
    """A deep copy of BASE_SPEC with top-level keys replaced."""
    d = copy.deepcopy(BASE_SPEC)
    d.update(copy.deepcopy(changes))
    return d

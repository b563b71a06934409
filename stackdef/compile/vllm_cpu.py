"""The kind CPU profile of an LLM service: a plain vLLM CPU Deployment.

kind has no GPUs, so instead of a RayService the LLM runs as one pod of the
pinned ``vllm/vllm-openai-cpu`` image serving the profile's small model with
the same OpenAI API and served model name. What differs from GPU targets
(documented in README "kind CPU profile"): no Ray, no autoscaling (1 replica),
the profile's model and context length instead of the service's, no GPU
requests or node placement.
"""

from __future__ import annotations

from typing import Any

from stackdef.compile.common import (
    SHM_MOUNT,
    container_security_context,
    env_list,
    http_probe,
    metadata,
    pod_security_context,
    resources,
    secret_env,
    shm_volume,
)
from stackdef import ports
from stackdef.resolve import ResolvedService, ResolvedStack
from stackdef.spec.models import LLMService

CACHE_MOUNT = "/models/cache"
PORT = ports.HTTP
_PROBE_PERIOD = 10


def vllm_cli_args(rs: ResolvedService) -> list[str]:
    """``vllm serve`` arguments (the model is the first, positional one)."""
    svc = rs.spec
    assert isinstance(svc, LLMService)
    prof = svc.cpu_profile
    return [
        prof.source,
        "--served-model-name",
        str(rs.served_model_name),
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--dtype",
        "bfloat16",
        "--max-model-len",
        str(prof.max_model_len),
        "--max-num-seqs",
        str(prof.max_num_seqs),
    ]


def deployment(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    svc = rs.spec
    assert isinstance(svc, LLMService)
    prof = svc.cpu_profile
    env = env_list(
        {
            "VLLM_CPU_KVCACHE_SPACE": str(prof.kv_cache_gib),
            # vLLM's own binding ("auto") pins threads to every core it can see,
            # which in a container is the whole node: bind nothing and run as
            # many OpenMP threads as the CPU limit leaves after the scheduler.
            "VLLM_CPU_OMP_THREADS_BIND": "nobind",
            "OMP_NUM_THREADS": str(rs.cpu_threads),
            # Non-root: point every cache at writable volumes.
            "HOME": "/tmp/home",
            "HF_HOME": f"{CACHE_MOUNT}/huggingface",
            "XDG_CACHE_HOME": "/tmp/cache",
        }
    )
    if svc.hf_token is not None:
        env.append(secret_env("HF_TOKEN", svc.hf_token))
    cache_volume: dict[str, Any]
    if rs.cache is not None:
        cache_volume = {"name": "model-cache", "persistentVolumeClaim": {"claimName": rs.names["model_cache"]}}
    else:
        cache_volume = {"name": "model-cache", "emptyDir": {"sizeLimit": "10Gi"}}
    container = {
        "name": "vllm",
        "image": rs.image,
        "command": ["vllm", "serve"],
        "args": vllm_cli_args(rs),
        "env": env,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "resources": resources(prof.cpu, prof.memory),
        "securityContext": container_security_context(),
        # Downloading and loading the model may take up to loading_timeout_s;
        # liveness and readiness only start once the startup probe passed.
        "startupProbe": http_probe(
            "/health", "http", period=_PROBE_PERIOD, timeout=5, failures=max(1, svc.loading_timeout_s // _PROBE_PERIOD)
        ),
        "readinessProbe": http_probe("/health", "http", period=5, timeout=5, failures=3),
        "livenessProbe": http_probe("/health", "http", period=10, timeout=5, failures=6),
        "volumeMounts": [
            dict(SHM_MOUNT),
            {"name": "model-cache", "mountPath": CACHE_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(rs.names["deployment"], rst.namespace, rs.labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(sorted(rs.selector.items()))},
            # One pod at a time: a second would load the model twice and, with a
            # ReadWriteOnce cache, could not mount it.
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": dict(sorted(rs.labels.items()))},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(1000, 1000),
                    "containers": [container],
                    "volumes": [
                        shm_volume("1Gi"),
                        cache_volume,
                        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                    ],
                },
            },
        },
    }

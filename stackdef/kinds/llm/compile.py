"""The ``llm`` kind's manifests.

On GPU targets: a RayService running ``ray.serve.llm:build_openai_app`` with
one ``llm_config`` (shaped as in KubeRay's ``ray-service.llm-serve.yaml``
sample) on GPU workers that load the model. On targets without GPUs (the
CPU profile): one vLLM CPU Deployment of the pinned ``vllm/vllm-openai-cpu``
image serving the profile's small model with the same OpenAI API and served
model name (README "kind CPU profile" lists what differs).
"""

from __future__ import annotations

from typing import Any

from stackdef import ports
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
from stackdef.compile.model import Component
from stackdef.compile.network import http_service, model_cache_pvc, network_policy
from stackdef.compile.ray import PodParts, ray_policy, rayservice, serve_autoscaling
from stackdef.resolve.model import ResolvedService, ResolvedStack

MODEL_CACHE_MOUNT = "/models/cache"
MODEL_SOURCE_MOUNT = "/models/source"
CACHE_MOUNT = MODEL_CACHE_MOUNT
PORT = ports.HTTP
_PROBE_PERIOD = 10


def engine_kwargs(rs: ResolvedService) -> dict[str, Any]:
    """vLLM engine arguments as Ray Serve LLM passes them to ``AsyncEngineArgs``."""
    e = rs.spec.engine
    d = rs.detail
    kw: dict[str, Any] = {"dtype": e.dtype}
    if d.quantization is not None:
        kw["quantization"] = d.quantization
    if e.max_model_len is not None:
        kw["max_model_len"] = e.max_model_len
    kw["tensor_parallel_size"] = d.tensor_parallel_size
    kw["pipeline_parallel_size"] = d.pipeline_parallel_size
    kw["gpu_memory_utilization"] = e.gpu_memory_utilization
    # The scheduler limits sizing assumed (vLLM's own defaults for the GPU, or the user's).
    max_num_seqs = d.max_num_seqs or e.max_num_seqs
    if max_num_seqs is not None:
        kw["max_num_seqs"] = max_num_seqs
    max_tokens = d.max_num_batched_tokens or e.max_num_batched_tokens
    if max_tokens is not None:
        kw["max_num_batched_tokens"] = max_tokens
    if e.enforce_eager:
        kw["enforce_eager"] = True
    if e.kv_cache_dtype is not None:
        kw["kv_cache_dtype"] = e.kv_cache_dtype
    for key in sorted(e.extra):
        kw[key] = e.extra[key]
    return kw


def model_source(source: str) -> Any:
    """``model_loading_config.model_source``: an HF id, a local path, or a bucket mirror."""
    if source.startswith(("s3://", "gs://")):
        return {"bucket_uri": source}
    if source.startswith("pvc://"):
        claim, _, sub = source.removeprefix("pvc://").partition("/")
        return f"{MODEL_SOURCE_MOUNT}/{claim}" + (f"/{sub.strip('/')}" if sub.strip("/") else "")
    return source


def llm_serve_config(rs: ResolvedService) -> dict[str, Any]:
    llm_config: dict[str, Any] = {
        "model_loading_config": {"model_id": rs.detail.served_model_name, "model_source": model_source(rs.spec.source)},
        # Omitted where Ray Serve LLM would rename the type (A10): the worker group's node placement decides.
        **({"accelerator_type": rs.detail.accelerator_type} if rs.detail.accelerator_type else {}),
        "engine_kwargs": engine_kwargs(rs),
        "deployment_config": {
            "autoscaling_config": serve_autoscaling(rs),
            "max_ongoing_requests": rs.detail.max_ongoing_requests,
        },
    }
    return {
        "applications": [
            {
                "name": rs.name,
                "import_path": "ray.serve.llm:build_openai_app",
                "route_prefix": "/",
                "args": {"llm_configs": [llm_config]},
            }
        ]
    }


def _worker_parts(rs: ResolvedService) -> PodParts:
    """The engine runs on the workers: they read the token and mount the cache and a PVC source."""
    svc = rs.spec
    env: list[dict[str, Any]] = []
    if svc.hf_token is not None:
        # Both names: huggingface_hub reads HF_TOKEN, older tools the long one.
        env.append(secret_env("HF_TOKEN", svc.hf_token))
        env.append(secret_env("HUGGING_FACE_HUB_TOKEN", svc.hf_token))
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if rs.cache is not None:
        env.extend(env_list({"HF_HOME": f"{MODEL_CACHE_MOUNT}/huggingface"}))
        volumes.append({"name": "model-cache", "persistentVolumeClaim": {"claimName": rs.names["model_cache"]}})
        mounts.append({"name": "model-cache", "mountPath": MODEL_CACHE_MOUNT})
    if svc.source.startswith("pvc://"):
        claim = svc.source.removeprefix("pvc://").split("/", 1)[0]
        volumes.append({"name": "model-source", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}})
        mounts.append({"name": "model-source", "mountPath": f"{MODEL_SOURCE_MOUNT}/{claim}", "readOnly": True})
    return PodParts(volumes, mounts, env)


def llm_rayservice(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    # KubeRay gives up on a new cluster after this long (validation.go:
    # positive Go duration); sized for downloading and loading weights.
    annotations = {"ray.io/initializing-timeout": f"{rs.spec.loading_timeout_s}s"}
    # The head never runs the engine (its Ray CPUs host only the OpenAI
    # ingress), so it mounts no model cache and reads no token.
    return rayservice(rst, rs, llm_serve_config(rs), head=PodParts(), worker=_worker_parts(rs), annotations=annotations)


def vllm_cli_args(rs: ResolvedService) -> list[str]:
    """``vllm serve`` arguments (the model is the first, positional one)."""
    prof = rs.spec.cpu_profile
    return [
        rs.detail.model,
        "--served-model-name",
        rs.detail.served_model_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--dtype",
        rs.detail.cpu_dtype,
        "--max-model-len",
        str(prof.max_model_len),
        "--max-num-seqs",
        str(prof.max_num_seqs),
    ]


def cpu_deployment(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    svc = rs.spec
    detail = rs.detail
    prof = svc.cpu_profile
    env = env_list(
        {
            "VLLM_CPU_KVCACHE_SPACE": str(prof.kv_cache_gib),
            # vLLM's own binding ("auto") pins threads to every core it can see,
            # which in a container is the whole node: bind nothing and run as
            # many OpenMP threads as the CPU limit leaves after the scheduler.
            "VLLM_CPU_OMP_THREADS_BIND": "nobind",
            "OMP_NUM_THREADS": str(detail.cpu_threads),
            # Non-root: point every cache at writable volumes.
            "HOME": "/tmp/home",
            "HF_HOME": f"{CACHE_MOUNT}/huggingface",
            "XDG_CACHE_HOME": "/tmp/cache",
        }
    )
    if svc.hf_token is not None:
        env.append(secret_env("HF_TOKEN", svc.hf_token))
    env.extend(env_list(dict(rs.env)))  # what layers give the service
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
            "replicas": rs.initial_replicas,
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


def components(rst: ResolvedStack, rs: ResolvedService) -> Component:
    objs: list[dict[str, Any]] = []
    pvc = model_cache_pvc(rst, rs)
    if pvc is not None:
        objs.append(pvc)
    if rs.mode == "llm-cpu":
        objs += [cpu_deployment(rst, rs), http_service(rst, rs), network_policy(rst, rs, metrics_port=ports.HTTP)]
    else:
        objs += [llm_rayservice(rst, rs), network_policy(rst, rs, **ray_policy(rst, rs))]
    return Component(
        rs.name,
        rs.kind,
        tuple(objs),
        depends_on=("namespace", *(op.name for op in rs.operators)),
        endpoint=rs.endpoint,
        ready_timeout_s=rs.ready_timeout_s,
        reads_secrets=True,
    )

"""KubeRay ``RayService`` (``ray.io/v1``) for LLM and model services.

LLM services run Ray Serve LLM (``ray.serve.llm:build_openai_app``) with
``args.llm_configs`` shaped as in KubeRay's ``ray-service.llm-serve.yaml``
sample; model services run the user's app from its import path. Both get a
head group (GCS, dashboard, Serve controller/proxy) and one worker group with
one Serve replica per pod, in-tree autoscaling on, so the Ray autoscaler adds
exactly the pods Serve's replica autoscaling asks for.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from stackdef import ports
from stackdef.compile.common import (
    SHM_MOUNT,
    container_security_context,
    env_list,
    exec_probe,
    http_probe,
    metadata,
    placement_fields,
    pod_security_context,
    resources,
    secret_env,
    shm_volume,
)
from stackdef.resolve import AUTOSCALER, LLM_HEAD_RAY_CPUS, ResolvedService, ResolvedStack, WorkerGroup
from stackdef.spec.models import LLMService, LocalCode, ModelService, RemoteCode
from stackdef.versions import RAY_VERSION

# Probes as KubeRay v1.7.0 injects them when a pod sets none (common/pod.go,
# utils/constant.go), stated here because stackdef sets its own:
# - Ray ≥ 2.53 heads and workers: HTTP GET /api/healthz on the dashboard agent;
#   readiness every 5 s, 10 failures; liveness from 30 s, 120 failures.
# - RayService workers: readiness also checks the Serve proxy (/-/healthz) and
#   fails at the first miss, because KubeRay labels every worker
#   ray.io/serve=true and only readiness keeps an unready proxy out of the
#   serve Service. Each wget gets 2 s inside a 5 s probe timeout.
_PROBE_TIMEOUT_S = 5
_RAYLET_HEALTH = f"wget --tries 1 -T 2 -q -O- http://localhost:{ports.RAY_DASHBOARD_AGENT}/api/local_raylet_healthz | grep success"
_PROXY_HEALTH = f"wget --tries 1 -T 2 -q -O- http://localhost:{ports.HTTP}/-/healthz | grep success"
MODEL_CACHE_MOUNT = "/models/cache"
MODEL_SOURCE_MOUNT = "/models/source"
APP_CODE_MOUNT = "/home/ray/stackdef-app"


def dump_serve_config(cfg: dict[str, Any]) -> str:
    """serveConfigV2 is a YAML *string* in the CRD; dump it deterministically."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, width=1000)


def _autoscaling(svc: LLMService | ModelService, rs: ResolvedService) -> dict[str, Any]:
    a = svc.autoscaling
    return {
        "min_replicas": rs.min_replicas,
        "initial_replicas": rs.initial_replicas,
        "max_replicas": rs.max_replicas,
        "target_ongoing_requests": a.target_ongoing_requests,
        "upscale_delay_s": a.upscale_delay_s,
        "downscale_delay_s": a.downscale_delay_s,
    }


def engine_kwargs(rs: ResolvedService) -> dict[str, Any]:
    """vLLM engine arguments as Ray Serve LLM passes them to ``AsyncEngineArgs``."""
    svc = rs.spec
    assert isinstance(svc, LLMService)
    e = svc.engine
    kw: dict[str, Any] = {"dtype": e.dtype}
    if e.quantization is not None:
        kw["quantization"] = e.quantization
    if e.max_model_len is not None:
        kw["max_model_len"] = e.max_model_len
    kw["tensor_parallel_size"] = rs.tensor_parallel_size
    kw["pipeline_parallel_size"] = rs.pipeline_parallel_size
    kw["gpu_memory_utilization"] = e.gpu_memory_utilization
    if e.max_num_seqs is not None:
        kw["max_num_seqs"] = e.max_num_seqs
    for key in sorted(e.extra):
        kw[key] = e.extra[key]
    return kw


def model_source(svc: LLMService) -> Any:
    """``model_loading_config.model_source``: an HF id, a local path, or a bucket mirror."""
    src = svc.source
    if src.startswith(("s3://", "gs://")):
        return {"bucket_uri": src}
    if src.startswith("pvc://"):
        claim, _, sub = src.removeprefix("pvc://").partition("/")
        return f"{MODEL_SOURCE_MOUNT}/{claim}" + (f"/{sub.strip('/')}" if sub.strip("/") else "")
    return src


def llm_serve_config(rs: ResolvedService) -> dict[str, Any]:
    svc = rs.spec
    assert isinstance(svc, LLMService)
    max_ongoing = svc.max_ongoing_requests or max(1, math.ceil(2 * svc.autoscaling.target_ongoing_requests))
    llm_config: dict[str, Any] = {
        "model_loading_config": {"model_id": rs.served_model_name, "model_source": model_source(svc)},
        "accelerator_type": rs.gpu_type,
        "engine_kwargs": engine_kwargs(rs),
        "deployment_config": {
            "autoscaling_config": _autoscaling(svc, rs),
            "max_ongoing_requests": max_ongoing,
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


def model_serve_config(rs: ResolvedService) -> dict[str, Any]:
    svc = rs.spec
    assert isinstance(svc, ModelService)
    runtime_env: dict[str, Any] = {}
    if isinstance(svc.code, RemoteCode):
        runtime_env["working_dir"] = svc.code.working_dir
    if svc.pip:
        runtime_env["pip"] = list(svc.pip)
    if svc.env:
        runtime_env["env_vars"] = dict(sorted(svc.env.items()))
    actor: dict[str, Any] = {"num_cpus": svc.resources.cpu}
    if rs.gpus_per_replica:
        actor["num_gpus"] = rs.gpus_per_replica
        actor["accelerator_type"] = rs.gpu_type
    app: dict[str, Any] = {
        "name": rs.name,
        "import_path": svc.import_path,
        "route_prefix": svc.route_prefix,
    }
    if runtime_env:
        app["runtime_env"] = runtime_env
    if svc.args:
        app["args"] = svc.args
    app["deployments"] = [
        {
            "name": svc.deployment,
            "max_ongoing_requests": svc.max_ongoing_requests,
            "autoscaling_config": _autoscaling(svc, rs),
            "ray_actor_options": actor,
        }
    ]
    return {"applications": [app]}


def _ray_env(rs: ResolvedService, *, loads_model: bool) -> list[dict[str, Any]]:
    """Container env; an LLM's token and cache path only where the engine loads the model (workers)."""
    svc = rs.spec
    env: list[dict[str, Any]] = []
    if isinstance(svc, LLMService):
        if not loads_model:
            return env
        if svc.hf_token is not None:
            # Both names: huggingface_hub reads HF_TOKEN, older tools the long one.
            env.append(secret_env("HF_TOKEN", svc.hf_token))
            env.append(secret_env("HUGGING_FACE_HUB_TOKEN", svc.hf_token))
        if rs.cache is not None:
            env.extend(env_list({"HF_HOME": f"{MODEL_CACHE_MOUNT}/huggingface"}))
    else:
        for var, ref in sorted(svc.secret_env.items()):
            env.append(secret_env(var, ref))
        if isinstance(svc.code, LocalCode):
            env.extend(env_list({"PYTHONPATH": APP_CODE_MOUNT}))
    return env


def _volumes(rs: ResolvedService, shm: str, *, loads_model: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Volumes of a Ray pod; the model cache and source only where the engine loads the model."""
    svc = rs.spec
    volumes = [shm_volume(shm)]
    mounts = [dict(SHM_MOUNT)]
    if isinstance(svc, LLMService):
        if not loads_model:
            return volumes, mounts
        if rs.cache is not None:
            volumes.append({"name": "model-cache", "persistentVolumeClaim": {"claimName": rs.names["model_cache"]}})
            mounts.append({"name": "model-cache", "mountPath": MODEL_CACHE_MOUNT})
        if svc.source.startswith("pvc://"):
            claim = svc.source.removeprefix("pvc://").split("/", 1)[0]
            volumes.append({"name": "model-source", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}})
            mounts.append({"name": "model-source", "mountPath": f"{MODEL_SOURCE_MOUNT}/{claim}", "readOnly": True})
    elif isinstance(svc.code, LocalCode):
        items = [{"key": code_key(path), "path": path} for path, _ in rs.code_files]
        volumes.append({"name": "app-code", "configMap": {"name": rs.names["code"], "items": items}})
        mounts.append({"name": "app-code", "mountPath": APP_CODE_MOUNT, "readOnly": True})
    return volumes, mounts


def code_key(path: str) -> str:
    """ConfigMap keys cannot hold '/', so nested files are flattened; ``items`` maps them back."""
    return path.replace("/", "__")


def _head_group(rs: ResolvedService) -> dict[str, Any]:
    assert rs.head is not None
    # The head never runs an LLM engine (its Ray CPUs host only the OpenAI
    # ingress), so it mounts no model cache and reads no token.
    volumes, mounts = _volumes(rs, "2Gi", loads_model=False)
    head_cpus = LLM_HEAD_RAY_CPUS if rs.mode == "llm-ray" else 0
    health = dict(path="/api/healthz", port=ports.RAY_DASHBOARD_AGENT, timeout=_PROBE_TIMEOUT_S)
    container: dict[str, Any] = {
        "name": "ray-head",
        "image": rs.image,
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports.RAY_HEAD_PORTS],
        "resources": resources(rs.head.cpu, rs.head.memory),
        "securityContext": container_security_context(),
        "readinessProbe": http_probe(health["path"], health["port"], initial=10, period=5, timeout=health["timeout"], failures=10),
        "livenessProbe": http_probe(health["path"], health["port"], initial=30, period=5, timeout=health["timeout"], failures=120),
        "volumeMounts": mounts,
    }
    env = _ray_env(rs, loads_model=False)
    if env:
        container["env"] = env
    return {
        "rayStartParams": {
            "dashboard-host": "0.0.0.0",
            # LLM: CPUs for the OpenAI ingress so it stays up with 0 GPU workers.
            # Model services: 0 keeps replicas on workers, which autoscale.
            "num-cpus": str(head_cpus),
            "num-gpus": "0",
        },
        "template": {
            "metadata": {"labels": dict(sorted({**rs.labels, "stackdef.dev/ray-node": "head"}.items()))},
            "spec": {
                "securityContext": pod_security_context(),
                "containers": [container],
                "volumes": volumes,
                **placement_fields(rs.cpu_placement),
            },
        },
    }


def _worker_metadata(rs: ResolvedService) -> dict[str, Any]:
    md: dict[str, Any] = {"labels": dict(sorted({**rs.labels, "stackdef.dev/ray-node": "worker"}.items()))}
    annotations = cost_annotations(rs)
    if annotations:
        md["annotations"] = annotations
    return md


def cost_annotations(rs: ResolvedService) -> dict[str, str]:
    """Run-time inputs for a budget-burn alert: what one replica of this service costs."""
    sz = rs.sizing
    if sz.instance is None or not sz.replicas_per_node:
        return {}
    return {
        "stackdef.dev/instance-type": sz.instance.instance_type,
        "stackdef.dev/replicas-per-node": str(sz.replicas_per_node),
        "stackdef.dev/usd-per-node-hour": f"{sz.instance.usd_per_hour:g}",
        "stackdef.dev/usd-per-replica-hour": f"{sz.instance.usd_per_hour / sz.replicas_per_node:.6g}",
    }


def _worker_group(rs: ResolvedService, wg: WorkerGroup) -> dict[str, Any]:
    volumes, mounts = _volumes(rs, "8Gi" if wg.gpus else "1Gi", loads_model=True)
    container: dict[str, Any] = {
        "name": "ray-worker",
        "image": rs.image,
        "ports": [{"name": "metrics", "containerPort": ports.RAY_METRICS, "protocol": "TCP"}],
        "resources": resources(wg.cpu, wg.memory, wg.gpus),
        "securityContext": container_security_context(),
        "readinessProbe": exec_probe(f"{_RAYLET_HEALTH} && {_PROXY_HEALTH}", initial=10, period=5, timeout=_PROBE_TIMEOUT_S, failures=1),
        "livenessProbe": http_probe("/api/healthz", ports.RAY_DASHBOARD_AGENT, initial=30, period=5, timeout=_PROBE_TIMEOUT_S, failures=120),
        "volumeMounts": mounts,
    }
    env = _ray_env(rs, loads_model=True)
    if env:
        container["env"] = env
    pod: dict[str, Any] = {
        # Workers never call the Kubernetes API (the autoscaler runs in the head pod).
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
        **placement_fields(wg.placement),
    }
    group: dict[str, Any] = {
        "groupName": wg.name,
        "replicas": wg.initial_workers,
        "minReplicas": wg.min_workers,
        "maxReplicas": wg.max_workers,
        "rayStartParams": {},
    }
    if wg.ray_resources:
        # Read by the operator (it becomes `ray start --resources`) and by Ray's
        # autoscaler, which can then start a node for a replica asking for this GPU type.
        group["resources"] = dict(sorted(wg.ray_resources.items()))
    group["template"] = {"metadata": _worker_metadata(rs), "spec": pod}
    return group


def serve_service(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    """KubeRay's serve Service, under the service's own name.

    KubeRay creates it once a cluster is ready and points its selector at the
    active cluster's pods with a healthy proxy (``ray.io/cluster`` and
    ``ray.io/serve``), switching only when a new cluster is ready, so clients
    never reach a cluster that is still starting.
    """
    return {
        "metadata": {"name": rs.names["service"], "labels": dict(sorted(rs.labels.items()))},
        "spec": {
            "type": "ClusterIP",
            "ports": [{"name": "serve", "port": ports.HTTP, "targetPort": ports.HTTP, "protocol": "TCP"}],
        },
    }


def rayservice(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    svc = rs.spec
    serve = llm_serve_config(rs) if rs.mode == "llm-ray" else model_serve_config(rs)
    annotations = cost_annotations(rs)
    if isinstance(svc, LLMService):
        # KubeRay gives up on a new cluster after this long (validation.go:
        # positive Go duration); sized for downloading and loading weights.
        annotations["ray.io/initializing-timeout"] = f"{svc.loading_timeout_s}s"
    assert rs.workers is not None
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": metadata(rs.names["rayservice"], rst.namespace, rs.labels, annotations),
        "spec": {
            "upgradeStrategy": {"type": "NewCluster"},
            "serveService": serve_service(rst, rs),
            "serveConfigV2": dump_serve_config(serve),
            "rayClusterConfig": {
                "rayVersion": RAY_VERSION,
                "enableInTreeAutoscaling": True,
                "autoscalerOptions": {
                    "upscalingMode": "Default",
                    "idleTimeoutSeconds": 60,
                    "resources": resources(AUTOSCALER.cpu, AUTOSCALER.memory),
                    "securityContext": container_security_context(),
                },
                "headGroupSpec": _head_group(rs),
                "workerGroupSpecs": [_worker_group(rs, rs.workers)],
            },
        },
    }


def code_configmap(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(rs.names["code"], rst.namespace, rs.labels),
        "data": {code_key(path): text for path, text in rs.code_files},
    }


def serve_config_of(doc: dict[str, Any]) -> dict[str, Any]:
    """Parse a compiled RayService's serveConfigV2 back into a dict."""
    return yaml.safe_load(doc["spec"]["serveConfigV2"])


__all__ = ["rayservice", "code_configmap", "llm_serve_config", "model_serve_config", "engine_kwargs"]

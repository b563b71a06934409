"""KubeRay ``RayService`` (``ray.io/v1``) building blocks shared by every Ray-based kind.

A RayService has a head group (GCS, dashboard, Serve controller and proxy)
and one worker group with one Serve replica per pod, in-tree autoscaling on,
so the Ray autoscaler adds exactly the pods Serve's replica autoscaling asks
for. The kind supplies its Serve config and what its pods mount and read;
everything else (sizes, placement, probes, names, the serve Service) comes
from the resolved service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    shm_volume,
)
from stackdef.compile.network import HTTP_PORT, ns_peer, tcp
from stackdef.operators.kuberay import AUTOSCALER
from stackdef.resolve.model import ResolvedService, ResolvedStack, WorkerGroup
from stackdef.versions import RAY_VERSION
from stackdef.yamlio import dump_plain

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
#: The head's memory-backed /dev/shm (Ray's object store lives there).
HEAD_SHM = "2Gi"


@dataclass(frozen=True)
class PodParts:
    """What a kind adds to a Ray pod: volumes, their mounts, env."""

    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)


def dump_serve_config(cfg: dict[str, Any]) -> str:
    """serveConfigV2 is a YAML *string* in the CRD; dump it deterministically."""
    return dump_plain(cfg)


def serve_config_of(doc: dict[str, Any]) -> dict[str, Any]:
    """Parse a compiled RayService's serveConfigV2 back into a dict."""
    return yaml.safe_load(doc["spec"]["serveConfigV2"])


def serve_autoscaling(rs: ResolvedService) -> dict[str, Any]:
    """Ray Serve's autoscaling_config: the resolved bounds and the spec's reaction speed."""
    a = rs.spec.autoscaling
    return {
        "min_replicas": rs.min_replicas,
        "initial_replicas": rs.initial_replicas,
        "max_replicas": rs.max_replicas,
        "target_ongoing_requests": a.target_ongoing_requests,
        "upscale_delay_s": a.upscale_delay_s,
        "downscale_delay_s": a.downscale_delay_s,
    }


def _container(name: str, image: str, extra: PodParts, base: dict[str, Any], rs: ResolvedService) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, **base, "volumeMounts": [dict(SHM_MOUNT), *extra.mounts]}
    env = [*extra.env, *env_list(dict(rs.env))]  # the kind's, then what layers give the service
    if env:
        container["env"] = env
    return container


def head_group(rs: ResolvedService, parts: PodParts) -> dict[str, Any]:
    assert rs.head is not None
    health = dict(path="/api/healthz", port=ports.RAY_DASHBOARD_AGENT, timeout=_PROBE_TIMEOUT_S)
    container = _container(
        "ray-head",
        rs.image,
        parts,
        {
            "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports.RAY_HEAD_PORTS],
            "resources": resources(rs.head.cpu, rs.head.memory),
            "securityContext": container_security_context(),
            "readinessProbe": http_probe(health["path"], health["port"], initial=10, period=5, timeout=health["timeout"], failures=10),
            "livenessProbe": http_probe(health["path"], health["port"], initial=30, period=5, timeout=health["timeout"], failures=120),
        },
        rs,
    )
    return {
        "rayStartParams": {
            "dashboard-host": "0.0.0.0",
            # LLM: CPUs for the OpenAI ingress so it stays up with 0 GPU workers.
            # Model services: 0 keeps replicas on workers, which autoscale.
            "num-cpus": str(rs.head_ray_cpus),
            "num-gpus": "0",
        },
        "template": {
            "metadata": {"labels": dict(sorted({**rs.labels, "stackdef.dev/ray-node": "head"}.items()))},
            "spec": {
                "securityContext": pod_security_context(),
                "containers": [container],
                "volumes": [shm_volume(HEAD_SHM), *parts.volumes],
                **placement_fields(rs.cpu_placement),
            },
        },
    }


def cost_annotations(rs: ResolvedService) -> dict[str, str]:
    """Run-time inputs for a budget-burn alert: what one replica of this service costs."""
    sz = rs.sizing
    if sz.instance is None or not sz.replicas_per_node or rs.cost is None or rs.cost.usd_per_replica_hour is None:
        return {}
    return {
        "stackdef.dev/instance-type": sz.instance.instance_type,
        "stackdef.dev/replicas-per-node": str(sz.replicas_per_node),
        "stackdef.dev/usd-per-node-hour": f"{sz.instance.usd_per_hour:g}",
        "stackdef.dev/usd-per-replica-hour": f"{rs.cost.usd_per_replica_hour:.6g}",
    }


def worker_group(rs: ResolvedService, wg: WorkerGroup, parts: PodParts) -> dict[str, Any]:
    container = _container(
        "ray-worker",
        rs.image,
        parts,
        {
            "ports": [{"name": "metrics", "containerPort": ports.RAY_METRICS, "protocol": "TCP"}],
            "resources": resources(wg.cpu, wg.memory, wg.gpus),
            "securityContext": container_security_context(),
            "readinessProbe": exec_probe(
                f"{_RAYLET_HEALTH} && {_PROXY_HEALTH}", initial=10, period=5, timeout=_PROBE_TIMEOUT_S, failures=1
            ),
            "livenessProbe": http_probe("/api/healthz", ports.RAY_DASHBOARD_AGENT, initial=30, period=5, timeout=_PROBE_TIMEOUT_S, failures=120),
        },
        rs,
    )
    pod: dict[str, Any] = {
        # Workers never call the Kubernetes API (the autoscaler runs in the head pod).
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": [shm_volume(wg.shm), *parts.volumes],
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
    md: dict[str, Any] = {"labels": dict(sorted({**rs.labels, "stackdef.dev/ray-node": "worker"}.items()))}
    # KubeRay leaves min/maxReplicas out of its cluster hash and never pushes them to a running
    # RayCluster, whose autoscaler would keep the old bounds (kuberay#2331, by design; #4568, open).
    # Naming them in the template makes a change of bounds a (zero-downtime) new cluster instead of
    # a change that silently does nothing.
    # Prices stay on the RayService's own metadata: in the hashed template a catalog update would
    # start a new cluster for every GPU service.
    md["annotations"] = {"stackdef.dev/worker-replicas": f"{wg.min_workers}-{wg.max_workers}"}
    group["template"] = {"metadata": md, "spec": pod}
    return group


def serve_service(rs: ResolvedService) -> dict[str, Any]:
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


def ray_policy(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    """NetworkPolicy rules of a Ray cluster: its own pods to each other (Ray uses many dynamic
    ports), the KubeRay operator to the dashboard; metrics on Ray's export port."""
    selector = {"matchLabels": dict(sorted(rs.selector.items()))}
    return {
        "metrics_port": ports.RAY_METRICS,
        "extra_rules": (
            {"from": [{"podSelector": selector}]},
            {"from": [ns_peer(rst.stack.network.operator_namespace)], "ports": tcp(ports.RAY_DASHBOARD, ports.RAY_DASHBOARD_AGENT, HTTP_PORT)},
        ),
    }


def rayservice(
    rst: ResolvedStack,
    rs: ResolvedService,
    serve_config: dict[str, Any],
    *,
    head: PodParts,
    worker: PodParts,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    assert rs.workers is not None
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": metadata(rs.names["rayservice"], rst.namespace, rs.labels, {**cost_annotations(rs), **(annotations or {})}),
        "spec": {
            "upgradeStrategy": {"type": "NewCluster"},
            "serveService": serve_service(rs),
            "serveConfigV2": dump_serve_config(serve_config),
            "rayClusterConfig": {
                "rayVersion": RAY_VERSION,
                "enableInTreeAutoscaling": True,
                "autoscalerOptions": {
                    "upscalingMode": "Default",
                    "idleTimeoutSeconds": 60,
                    "resources": resources(AUTOSCALER.cpu, AUTOSCALER.memory),
                    "securityContext": container_security_context(),
                },
                "headGroupSpec": head_group(rs, head),
                "workerGroupSpecs": [worker_group(rs, rs.workers, worker)],
            },
        },
    }

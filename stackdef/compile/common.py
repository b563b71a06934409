"""Building blocks every compiled workload shares: secure defaults in one place.

Each container gets requests = limits (no noisy neighbours, Guaranteed QoS
where possible), a restricted security context (non-root, no privilege
escalation, all capabilities dropped, RuntimeDefault seccomp) and a memory-backed
``/dev/shm``. Secrets are only ever *referenced* (``secretKeyRef``).
"""

from __future__ import annotations

from typing import Any

from stackdef.resolve.context import INSTANCE_TYPE_LABEL
from stackdef.spec.base import SecretRef

#: uid/gid of the ``ray`` user in rayproject images (and used for vLLM CPU too;
#: its image runs as root by default but needs no root: HOME and caches are
#: redirected to writable volumes).
RAY_UID = 1000
RAY_GID = 100


def metadata(name: str, namespace: str | None, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if namespace is not None:
        md["namespace"] = namespace
    md["labels"] = dict(sorted(labels.items()))
    if annotations:
        md["annotations"] = dict(sorted(annotations.items()))
    return md


def resources(cpu: str, memory: str, gpus: int = 0) -> dict[str, Any]:
    """requests == limits; GPUs are an extended resource (limits must equal requests)."""
    res: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpus:
        res["nvidia.com/gpu"] = str(gpus)
    return {"requests": dict(res), "limits": dict(res)}


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(uid: int = RAY_UID, gid: int = RAY_GID) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def shm_volume(size: str) -> dict[str, Any]:
    return {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}}


SHM_MOUNT = {"name": "dshm", "mountPath": "/dev/shm"}


def secret_env(name: str, ref: SecretRef) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}


def env_list(plain: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in sorted(plain.items())]


def exec_probe(command: str, *, initial: int, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["bash", "-c", command]},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


def http_probe(path: str, port: str | int, *, period: int, timeout: int, failures: int, initial: int = 0) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


def placement_fields(placement: Any) -> dict[str, Any]:
    """nodeSelector, tolerations and node affinity of a pod, from a resolved Placement."""
    out: dict[str, Any] = {}
    if placement.node_selector:
        out["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        out["tolerations"] = [dict(t) for t in placement.tolerations]
    exprs: list[dict[str, Any]] = []
    if placement.instance_types:
        exprs.append({"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": list(placement.instance_types)})
    if placement.avoid_instance_types:
        exprs.append({"key": INSTANCE_TYPE_LABEL, "operator": "NotIn", "values": list(placement.avoid_instance_types)})
    for label in placement.avoid_labels:
        exprs.append({"key": label, "operator": "DoesNotExist"})
    if exprs:
        out["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}
        }
    return out

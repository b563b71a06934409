"""Services, NetworkPolicies, the Namespace and PersistentVolumeClaims.

NetworkPolicies start from a namespace-wide default deny of ingress and then
admit only what each component needs: clients in the stack's namespace (and
namespaces the spec names) on the HTTP port, the peers its kind adds (a Ray
cluster's own pods and the KubeRay operator, see ``compile.ray``), and the
monitoring namespace to metrics ports when one is set.
"""

from __future__ import annotations

from typing import Any

from stackdef import ports
from stackdef.compile.common import metadata
from stackdef.naming import k8s_name
from stackdef.resolve.model import ResolvedService, ResolvedStack

HTTP_PORT = ports.HTTP


def namespace(rst: ResolvedStack) -> dict[str, Any]:
    labels = {
        **rst.labels,
        # Baseline is enforced (Ray and vLLM pods meet restricted, but KubeRay
        # injects containers stackdef does not control); restricted is audited.
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(rst.namespace, None, labels)}


def operator_namespace(rst: ResolvedStack, name: str) -> dict[str, Any]:
    """The operator's namespace (Helm's --create-namespace would make it unlabelled)."""
    labels = {
        "app.kubernetes.io/managed-by": "stackdef",
        "pod-security.kubernetes.io/enforce": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, None, labels)}


def default_deny(rst: ResolvedStack) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(k8s_name("NetworkPolicy", "default-deny-ingress"), rst.namespace, rst.labels),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def ns_peer(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def tcp(*numbers: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in numbers]


def network_policy(
    rst: ResolvedStack,
    rs: Any,
    *,
    metrics_port: int,
    extra_rules: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """Ingress for one service's pods: clients on the HTTP port, ``extra_rules`` (its own
    cluster's peers, an operator), and the monitoring namespace on ``metrics_port``."""
    net = rst.stack.network
    clients = [{"podSelector": {}}] + [ns_peer(ns) for ns in net.allow_from_namespaces]
    rules: list[dict[str, Any]] = [{"from": clients, "ports": tcp(HTTP_PORT)}, *extra_rules]
    if net.monitoring_namespace:
        rules.append({"from": [ns_peer(net.monitoring_namespace)], "ports": tcp(metrics_port)})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(rs.names["network_policy"], rst.namespace, rs.labels),
        "spec": {
            "podSelector": {"matchLabels": dict(sorted(rs.selector.items()))},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def http_service(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    """The stable in-cluster endpoint of a plain Deployment (the kind CPU profile).

    RayServices get theirs from KubeRay (``spec.serveService``), which alone
    knows which cluster is active.
    """
    selector = dict(rs.selector)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(rs.names["service"], rst.namespace, rs.labels),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(sorted(selector.items())),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT, "protocol": "TCP"}],
        },
    }


def model_cache_pvc(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any] | None:
    cache = rs.cache
    if cache is None:
        return None
    spec: dict[str, Any] = {"accessModes": [cache.access_mode], "resources": {"requests": {"storage": cache.size}}}
    if cache.storage_class:
        spec["storageClassName"] = cache.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(
            rs.names["model_cache"],
            rst.namespace,
            rs.labels,
            # Stateful: the deploy edge protects it; `kubectl delete -f` users
            # see the intent here.
            {"stackdef.dev/protect": "true"},
        ),
        "spec": spec,
    }

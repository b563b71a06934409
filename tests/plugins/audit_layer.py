"""An ``audit`` layer: a log sink Deployment beside the services (not part of stackdef)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from stackdef.compile.common import container_security_context, http_probe, metadata, pod_security_context, resources
from stackdef.compile.model import Component
from stackdef.errors import Issue
from stackdef.layers.base import Layer
from stackdef.resolve.model import PodSet, PodSize, ResolvedLayer, Sizing
from stackdef.spec.base import _Base

IMAGE = "hashicorp/http-echo:1.0"
SINK = PodSize("250m", "256Mi")


class AuditSection(_Base):
    """Where request logs go and for how long."""

    retention_days: int = Field(30, ge=1, le=3650, description="Days logs are kept.")
    replicas: int = Field(1, ge=1, le=5, description="Sink replicas.")


class AuditLayer(Layer):
    name = "audit"
    spec = AuditSection
    description = "Request audit log sink (a test-only layer)."

    def rules(self, ctx: Any, section: AuditSection) -> list[Issue]:
        if section.replicas > 1 and section.retention_days > 365:
            return [Issue("audit.retention_days", "long retention with several sinks", "keep retention_days ≤ 365")]
        return []

    def resolve(self, ctx: Any, section: AuditSection) -> ResolvedLayer:
        pods = PodSet(fixed=(SINK,) * section.replicas)
        return ResolvedLayer(
            name=self.name,
            spec=section,
            pods=pods,
            bill=ctx.bill(Sizing(), pods.cpu_load(), None),
            images=(IMAGE,),
            detail={"labels": {**ctx.labels, "app.kubernetes.io/name": "audit-sink"}, "selector": {"stackdef.dev/layer": "audit"}},
        )

    def components(self, rst: Any, rl: ResolvedLayer) -> list[Component]:
        labels = {**rl.detail["labels"], **rl.detail["selector"]}
        container = {
            "name": "sink",
            "image": IMAGE,
            "args": [f"-text=retention {rl.spec.retention_days}d", "-listen=:8000"],
            "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
            "resources": resources(SINK.cpu, SINK.memory),
            "securityContext": container_security_context(),
            "readinessProbe": http_probe("/", "http", period=5, timeout=2, failures=3),
            "livenessProbe": http_probe("/", "http", period=10, timeout=2, failures=3),
        }
        dep = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata("audit-sink", rst.namespace, labels),
            "spec": {
                "replicas": rl.spec.replicas,
                "selector": {"matchLabels": rl.detail["selector"]},
                "template": {
                    "metadata": {"labels": dict(sorted(labels.items()))},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(65532, 65532),
                        "containers": [container],
                    },
                },
            },
        }
        return [Component("audit", self.name, (dep,), depends_on=("namespace",), role="layer")]

    def plan_section(self, rst: Any, rl: ResolvedLayer) -> dict[str, Any]:
        return {"retention_days": rl.spec.retention_days, "replicas": rl.spec.replicas, "images": list(rl.images)}

"""An ``echo`` service kind: a plain Deployment of an HTTP echo server (not part of stackdef)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from stackdef.compile.common import (
    container_security_context,
    http_probe,
    metadata,
    pod_security_context,
    resources,
)
from stackdef.compile.model import Component
from stackdef.compile.network import http_service, network_policy
from stackdef.errors import Issue
from stackdef.kinds.base import ServiceKind
from stackdef.naming import k8s_name
from stackdef.resolve.model import PodSet, PodSize, ResolvedService, Sizing
from stackdef.spec.base import Autoscaling, Budget, ServiceName, _Base

IMAGE = "hashicorp/http-echo:1.0"
POD = PodSize("100m", "64Mi")


class EchoService(_Base):
    """Answers every request with a fixed text."""

    type: Literal["echo"] = Field(description="Discriminator: an echo server.")
    name: ServiceName
    text: str = Field("hello", min_length=1, description="What it answers.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Replica bounds (replicas = min).")
    budget: Budget | None = Field(None, description="Monthly budget of this service alone.")


class EchoKind(ServiceKind):
    type = "echo"
    spec = EchoService

    def rules(self, ctx: Any, path: str, svc: EchoService) -> list[Issue]:
        if svc.text.strip() != svc.text:
            return [Issue(f"{path}.text", "text has leading or trailing spaces", "trim it")]
        return []

    def resolve(self, ctx: Any, index: int, svc: EchoService) -> ResolvedService:
        _, selector, labels = ctx.identity(svc, "echo")
        names = {
            "deployment": k8s_name("Deployment", svc.name),
            "service": k8s_name("Service", svc.name),
            "network_policy": k8s_name("NetworkPolicy", svc.name),
        }
        pods = PodSet(per_replica=(POD,))
        n = svc.autoscaling.min_replicas or 1
        return ResolvedService(
            index=index,
            spec=svc,
            kind="echo",
            mode="echo-deployment",
            image=IMAGE,
            labels=labels,
            selector=selector,
            names=names,
            min_replicas=n,
            max_replicas=n,
            initial_replicas=n,
            gpu_type=None,
            gpus_per_replica=0,
            workers=None,
            pods=pods,
            sizing=Sizing(bill=ctx.bill(Sizing(), pods.cpu_load(), None)),
            cpu_placement=ctx.cpu_placement(),
            endpoint=ctx.endpoint(names["service"]),
            ready_timeout_s=120,
        )

    def components(self, rst: Any, rs: ResolvedService) -> Component:
        container = {
            "name": "echo",
            "image": rs.image,
            "args": [f"-text={rs.spec.text}", "-listen=:8000"],
            "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
            "resources": resources(POD.cpu, POD.memory),
            "securityContext": container_security_context(),
            "readinessProbe": http_probe("/", "http", period=5, timeout=2, failures=3),
            "livenessProbe": http_probe("/", "http", period=10, timeout=2, failures=3),
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(rs.names["deployment"], rst.namespace, rs.labels),
            "spec": {
                "replicas": rs.initial_replicas,
                "selector": {"matchLabels": dict(sorted(rs.selector.items()))},
                "template": {
                    "metadata": {"labels": dict(sorted(rs.labels.items()))},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(65532, 65532),
                        "containers": [container],
                    },
                },
            },
        }
        objs = (deployment, http_service(rst, rs), network_policy(rst, rs, metrics_port=8000))
        return Component(rs.name, rs.kind, objs, depends_on=("namespace",), endpoint=rs.endpoint, ready_timeout_s=rs.ready_timeout_s)

    def plan_details(self, rs: ResolvedService) -> dict[str, Any]:
        return {"text": rs.spec.text}

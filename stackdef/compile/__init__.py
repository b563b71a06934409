"""Compile: resolved stack → plain manifest dicts, grouped by component.

Pure functions (cdk8s-style constructs → dicts): no I/O, no Pulumi, no Ray.
Operators that ship as Helm charts are described as :class:`HelmChart` (chart,
pinned version, values) for the render stage and the deploy edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackdef.compile import network, rayservice, vllm_cpu
from stackdef.resolve import OPERATOR, ResolvedStack
from stackdef.versions import KUBERAY_CHART_REPO, KUBERAY_CHART_VERSION, KUBERAY_OPERATOR_IMAGE


@dataclass(frozen=True)
class HelmChart:
    """An operator installed from a Helm chart at a pinned version."""

    release: str
    chart: str
    repo: str
    version: str
    namespace: str
    values: dict[str, Any]
    doc: str

    def install_command(self, values_file: str) -> str:
        return (
            f"helm upgrade --install {self.release} {self.chart} --repo {self.repo} "
            f"--version {self.version} --namespace {self.namespace} --create-namespace -f {values_file}"
        )


@dataclass(frozen=True)
class Component:
    """A unit of the stack: a service, the namespace, or an operator."""

    name: str
    kind: str  # "namespace" | "operator" | "llm" | "model"
    objects: tuple[dict[str, Any], ...] = ()
    charts: tuple[HelmChart, ...] = ()
    depends_on: tuple[str, ...] = field(default_factory=tuple)
    #: In-cluster URL of the component's HTTP endpoint, if it has one.
    endpoint: str | None = None
    #: Seconds the deploy edge may wait for this component's workloads to become ready.
    ready_timeout_s: int | None = None


@dataclass(frozen=True)
class CompiledStack:
    resolved: ResolvedStack
    components: tuple[Component, ...]

    def objects(self) -> list[dict[str, Any]]:
        return [o for c in self.components for o in c.objects]


def kuberay_chart(rst: ResolvedStack) -> HelmChart:
    repo, _, tag = KUBERAY_OPERATOR_IMAGE.rpartition(":")
    values = {
        "image": {"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
        "resources": {
            "requests": {"cpu": OPERATOR.cpu, "memory": OPERATOR.memory},
            "limits": {"cpu": OPERATOR.cpu, "memory": OPERATOR.memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
    }
    return HelmChart(
        release="kuberay-operator",
        chart="kuberay-operator",
        repo=KUBERAY_CHART_REPO,
        version=KUBERAY_CHART_VERSION,
        namespace=rst.stack.network.operator_namespace,
        values=values,
        doc="KubeRay operator (manages RayService/RayCluster; installs the ray.io CRDs). "
        "Pinned image and chart version; requests = limits.",
    )


def compile_stack(rst: ResolvedStack) -> CompiledStack:
    """Every manifest of the stack, in apply order within each component."""
    comps: list[Component] = [
        Component("namespace", "namespace", (network.namespace(rst), network.default_deny(rst)))
    ]
    if rst.needs_kuberay:
        chart = kuberay_chart(rst)
        comps.append(
            Component(
                "kuberay-operator",
                "operator",
                (network.operator_namespace(rst, chart.namespace),),
                charts=(chart,),
            )
        )
    for rs in rst.services:
        objs: list[dict[str, Any]] = []
        pvc = network.model_cache_pvc(rst, rs)
        if pvc is not None:
            objs.append(pvc)
        if rs.code_files:
            objs.append(rayservice.code_configmap(rst, rs))
        if rs.mode == "llm-cpu":
            objs.append(vllm_cpu.deployment(rst, rs))
            objs.append(network.http_service(rst, rs))
        else:
            objs.append(rayservice.rayservice(rst, rs))
        objs.append(network.network_policy(rst, rs))
        deps = ("namespace", "kuberay-operator") if rs.mode != "llm-cpu" else ("namespace",)
        comps.append(
            Component(
                rs.name,
                "llm" if rs.mode.startswith("llm") else "model",
                tuple(objs),
                depends_on=deps,
                endpoint=rs.endpoint,
                ready_timeout_s=rs.ready_timeout_s,
            )
        )
    return CompiledStack(rst, tuple(comps))

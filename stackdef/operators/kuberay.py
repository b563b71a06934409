"""The KubeRay operator (manages RayService/RayCluster), from its pinned Helm chart."""

from __future__ import annotations

from typing import Any

from stackdef.operators import Operator
from stackdef.resolve.model import PodSize
from stackdef.versions import KUBERAY_CHART_REPO, KUBERAY_CHART_VERSION, KUBERAY_OPERATOR_IMAGE

#: KubeRay's default autoscaler sidecar (pod.go), stated so it is billed and counted.
AUTOSCALER = PodSize("500m", "512Mi")

#: The operator pod (chart values below).
OPERATOR_POD = PodSize("100m", "512Mi")


def _component(rst: Any) -> Any:
    from stackdef.compile.model import Component, HelmChart
    from stackdef.compile.network import operator_namespace

    repo, _, tag = KUBERAY_OPERATOR_IMAGE.rpartition(":")
    values = {
        "image": {"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
        "resources": {
            "requests": {"cpu": OPERATOR_POD.cpu, "memory": OPERATOR_POD.memory},
            "limits": {"cpu": OPERATOR_POD.cpu, "memory": OPERATOR_POD.memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
    }
    chart = HelmChart(
        release="kuberay-operator",
        chart="kuberay-operator",
        repo=KUBERAY_CHART_REPO,
        version=KUBERAY_CHART_VERSION,
        namespace=rst.stack.network.operator_namespace,
        values=values,
        doc="KubeRay operator (manages RayService/RayCluster; installs the ray.io CRDs). "
        "Pinned image and chart version; requests = limits.",
    )
    return Component(
        "kuberay-operator", "operator", (operator_namespace(rst, chart.namespace),), charts=(chart,), role="operator"
    )


KUBERAY = Operator(name="kuberay-operator", title="KubeRay", pods=(OPERATOR_POD,), build=_component)

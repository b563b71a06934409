"""Pulumi ComponentResources wrapping compiled manifests.

Every manifest dict from ``stackdef.compile`` becomes exactly one Pulumi
resource with the same content (typed class for built-in kinds so the type
token is right, ``CustomResource`` for CRDs), parented to its component.
Stateful objects (model caches, the data layer's volumes and Redis: ``stackdef.dev/protect``) are protected; every
RayService depends on the KubeRay operator chart; declared secrets whose
values come from Pulumi config become Kubernetes Secrets, registered as secret.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stackdef.compile import CompiledStack, Component, HelmChart
from stackdef.naming import k8s_name

# Built-in kinds stackdef emits → their typed pulumi_kubernetes class.
_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}

STACK_TYPE = "stackdef:index:Stack"
COMPONENT_TYPE = "stackdef:index:Component"


def resource_name(obj: dict[str, Any]) -> str:
    """Pulumi logical name: unique per kind, namespace and name within a stack."""
    md = obj["metadata"]
    return "-".join(p for p in (obj["kind"].lower(), md.get("namespace"), md["name"]) if p)


#: Kinds pulumi-kubernetes waits on until their pods are ready (a Service until it has endpoints).
_AWAITED = {"Deployment", "StatefulSet", "Service", "Job"}


def register_manifest(obj: dict[str, Any], opts: pulumi.ResourceOptions, ready_timeout_s: int | None = None) -> pulumi.CustomResource:
    key = (obj["apiVersion"], obj["kind"])
    props = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    annotations = obj["metadata"].get("annotations", {})
    if annotations.get("stackdef.dev/protect") == "true":
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True))
    if annotations.get("stackdef.dev/retain-on-delete") == "true":
        # Left in the cluster when the program drops it (a previous version still in use).
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True))
    if ready_timeout_s is not None and obj["kind"] in _AWAITED:
        # Pulumi's default await (10 min) would give up while the pods are still
        # inside their start-up budget (image pull + startup probe).
        timeout = f"{ready_timeout_s}s"
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout))
        )
    cls = _TYPED.get(key)
    if cls is not None:
        return cls(resource_name(obj), opts=opts, api_version=obj["apiVersion"], kind=obj["kind"], **props)
    return k8s.apiextensions.CustomResource(
        resource_name(obj), opts=opts, api_version=obj["apiVersion"], kind=obj["kind"], **props
    )


def register_chart(chart: HelmChart, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    # helm.sh/v4 Chart renders client-side and registers every object as a
    # child resource, so `pulumi preview` shows them without cluster access
    # (v3 Release would preview as one opaque placeholder).
    return k8s.helm.v4.Chart(
        chart.release,
        opts=opts,
        chart=chart.chart,
        version=chart.version,
        namespace=chart.namespace,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=chart.repo),
        values=chart.values,
    )


class ComponentResource(pulumi.ComponentResource):
    """One stack component (namespace, operator or service) and its manifests."""

    def __init__(
        self,
        component: Component,
        *,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__(COMPONENT_TYPE, component.name, {"kind": component.kind}, opts)
        self.objects: list[pulumi.CustomResource] = [
            register_manifest(obj, pulumi.ResourceOptions(parent=self, depends_on=depends_on), component.ready_timeout_s)
            for obj in component.objects
        ]
        # Charts after the component's own objects (e.g. the operator's namespace).
        self.charts: list[pulumi.Resource] = [
            register_chart(chart, pulumi.ResourceOptions(parent=self, depends_on=depends_on + self.objects))
            for chart in component.charts
        ]
        # RayServices' Services are made by KubeRay, so the endpoint comes from compile, not from an object here.
        self.endpoint: pulumi.Output[str] | None = (
            pulumi.Output.from_input(component.endpoint) if component.endpoint else None
        )
        self.register_outputs({"endpoint": self.endpoint})

    @property
    def resources(self) -> list[pulumi.Resource]:
        return [*self.objects, *self.charts]


class StackResource(pulumi.ComponentResource):
    """The whole stack: namespace, operator, secrets and every service."""

    def __init__(
        self,
        compiled: CompiledStack,
        *,
        secret_values: dict[str, dict[str, pulumi.Input[str]]] | None = None,
        provider: pulumi.ProviderResource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        rst = compiled.resolved
        super().__init__(STACK_TYPE, rst.stack.name, {"target": rst.target_type}, opts)
        # Children inherit the Kubernetes provider through parent=self.
        base = pulumi.ResourceOptions(parent=self, providers=[provider] if provider is not None else None)
        self.components: dict[str, ComponentResource] = {}
        self.secrets: dict[str, pulumi.Resource] = {}
        for comp in compiled.components:
            deps = [r for name in comp.depends_on for r in self.components[name].resources]
            if comp.reads_secrets:
                deps.extend(self.secrets.values())
            self.components[comp.name] = ComponentResource(comp, depends_on=deps, opts=base)
            if comp.role == "namespace":
                self.secrets = self._secrets(compiled, secret_values or {}, base, self.components[comp.name])
        self.endpoints = {name: c.endpoint for name, c in self.components.items() if c.endpoint is not None}
        self.register_outputs({"endpoints": self.endpoints, "namespace": rst.namespace})

    @staticmethod
    def _secrets(
        compiled: CompiledStack,
        values: dict[str, dict[str, pulumi.Input[str]]],
        base: pulumi.ResourceOptions,
        namespace: ComponentResource,
    ) -> dict[str, pulumi.Resource]:
        """Kubernetes Secrets for declared secrets whose values are in Pulumi config.

        Secrets not given in config are expected to exist already (created by
        hand or another tool); stackdef never invents a value.
        """
        rst = compiled.resolved
        out: dict[str, pulumi.Resource] = {}
        for decl in rst.stack.secrets:
            given = values.get(decl.name)
            if not given:
                continue
            data = {key: pulumi.Output.secret(given[key]) for key in decl.keys if key in given}
            out[decl.name] = k8s.core.v1.Secret(
                f"secret-{rst.namespace}-{decl.name}",
                opts=pulumi.ResourceOptions.merge(
                    base, pulumi.ResourceOptions(depends_on=namespace.objects, additional_secret_outputs=["stringData", "data"])
                ),
                metadata={
                    "name": k8s_name("Secret", decl.name),
                    "namespace": rst.namespace,
                    "labels": dict(sorted(rst.labels.items())),
                },
                type="Opaque",
                string_data=data,
            )
        return out

"""What compile produces: components of plain manifest dicts (cdk8s-style), and Helm charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


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
    """A unit of the stack: the namespace, an operator, a service, or a layer's part."""

    name: str
    #: "namespace", "operator", a service's kind (its spec ``type``) or a layer's name.
    kind: str
    objects: tuple[dict[str, Any], ...] = ()
    charts: tuple[HelmChart, ...] = ()
    depends_on: tuple[str, ...] = field(default_factory=tuple)
    #: In-cluster URL of the component's HTTP endpoint, if it has one.
    endpoint: str | None = None
    #: Seconds the deploy edge may wait for this component's workloads to become ready.
    ready_timeout_s: int | None = None
    role: Literal["namespace", "operator", "service", "layer"] = "service"
    #: Its pods read declared Secrets, so they wait for them.
    reads_secrets: bool = False


@dataclass(frozen=True)
class CompiledStack:
    resolved: Any
    components: tuple[Component, ...]

    def objects(self) -> list[dict[str, Any]]:
        return [o for c in self.components for o in c.objects]

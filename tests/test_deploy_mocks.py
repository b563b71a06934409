"""The Pulumi edge under the SDK's own mocks (no CLI, no cluster).

A recording monitor captures every RegisterResource request the program
sends, so the tests check what the engine would receive: one resource per
compiled manifest with the same content, parents, dependencies, protection,
secrets and the stack outputs.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from stackdef.providers.base import ClusterConnection

from stackdef.deploy.components import COMPONENT_TYPE, STACK_TYPE, resource_name
from stackdef.deploy.program import deploy
from stackdef.pipeline import build
from tests.util import BLUEPRINTS

SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"


class Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


class RecordingMonitor(pmocks.MockMonitor):
    def __init__(self, m: pulumi.runtime.Mocks) -> None:
        super().__init__(m)
        self.requests: list[Any] = []
        self.outputs: dict[str, dict] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.requests.append(request)
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


def urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


def urn_name(urn: str) -> str:
    return urn.split("::")[3]


def floats(x: Any) -> Any:
    """Mock inputs carry numbers as floats (protobuf Struct)."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, dict):
        return {k: floats(v) for k, v in x.items()}
    return [floats(v) for v in x]


def run_program(spec: str, config: dict[str, str] | None = None, secret_keys: list[str] | None = None) -> tuple[RecordingMonitor, Any]:
    monitor = RecordingMonitor(Echo())
    pulumi.runtime.set_mocks(Echo(), project="stackdef", stack="test", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config or {}, secret_keys or [])
    built = build(spec)

    @pulumi.runtime.test
    def program() -> Any:
        deploy(built, ClusterConnection(kubeconfig="apiVersion: v1\nkind: Config\n", context="test"))
        # `pulumi.export` puts outputs on the root Stack resource; resolve them here
        # (mocks never run the end-of-program registration that would send them).
        root = pulumi.runtime.get_root_resource()
        return pulumi.Output.from_input(root.outputs).apply(monitor.stack_outputs.update)

    program()
    return monitor, built


@pytest.fixture(scope="module", params=sorted(BLUEPRINTS))
def recorded(request: pytest.FixtureRequest) -> tuple[RecordingMonitor, Any]:
    secrets = json.dumps({"hf-token": {"token": "hf_TOP_SECRET_VALUE"}})
    return run_program(BLUEPRINTS[request.param], {"stackdef:secrets": secrets}, ["stackdef:secrets"])


def _by_type(monitor: RecordingMonitor, typ: str) -> list[Any]:
    return [r for r in monitor.requests if r.type == typ]


def test_every_manifest_is_exactly_one_resource_with_the_same_content(recorded: Any) -> None:
    monitor, built = recorded
    for comp in built.compiled.components:
        for obj in comp.objects:
            group_version = obj["apiVersion"] if "/" in obj["apiVersion"] else f"core/{obj['apiVersion']}"
            token = f"kubernetes:{group_version}:{obj['kind']}"
            matches = [r for r in monitor.requests if r.type == token and r.name == resource_name(obj)]
            assert len(matches) == 1, (token, resource_name(obj))
            inputs = rpc.deserialize_properties(matches[0].object)
            assert floats(inputs) == floats(obj)
            # Parented to its component, which is parented to the stack.
            assert urn_type(matches[0].parent) == COMPONENT_TYPE
            assert urn_name(matches[0].parent) == comp.name
    n_objects = sum(len(c.objects) for c in built.compiled.components)
    k8s_objects = [r for r in monitor.requests if r.type.startswith("kubernetes:") and r.custom and not r.type.endswith("Secret")]
    assert len(k8s_objects) == n_objects


def test_components_are_children_of_the_stack(recorded: Any) -> None:
    monitor, built = recorded
    comps = _by_type(monitor, COMPONENT_TYPE)
    assert sorted(r.name for r in comps) == sorted(c.name for c in built.compiled.components)
    (stack,) = _by_type(monitor, STACK_TYPE)
    assert all(urn_type(r.parent) == STACK_TYPE for r in comps)
    assert stack.name == built.loaded.stack.name


def test_rayservices_depend_on_the_operator_and_pvcs_are_protected(recorded: Any) -> None:
    monitor, _ = recorded
    (chart,) = _by_type(monitor, "kubernetes:helm.sh/v4:Chart")
    chart_inputs = rpc.deserialize_properties(chart.object)
    assert chart_inputs["version"] == "1.7.0" and chart_inputs["chart"] == "kuberay-operator"
    assert chart_inputs["repositoryOpts"] == {"repo": "https://ray-project.github.io/kuberay-helm/"}
    chart_urn = next(urn for urn in monitor.resources if urn.endswith("::kuberay-operator") and "Chart" in urn)
    rayservices = _by_type(monitor, "kubernetes:ray.io/v1:RayService")
    assert rayservices
    for r in rayservices:
        assert chart_urn in r.dependencies
    # Stateful objects, and only those, are protected: the volumes and the feature store's Redis.
    protected = {r.type for r in monitor.requests if r.protect}
    assert protected == {"kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:apps/v1:StatefulSet"}
    for r in monitor.requests:
        if r.type in protected:
            assert r.protect, r.name
    # Content-named code ConfigMaps, and only those, stay when a new version replaces them.
    retained = {r.name for r in monitor.requests if r.retainOnDelete}
    assert retained and all(name.startswith("configmap-") and "-code-" in name for name in retained)


def test_secret_values_are_registered_as_secrets(recorded: Any) -> None:
    monitor, _ = recorded
    (secret,) = _by_type(monitor, "kubernetes:core/v1:Secret")
    raw = json_format.MessageToDict(secret.object)
    # The engine receives the value only inside a secret envelope (the
    # envelope may wrap the key or, as pulumi-kubernetes marks it, all stringData).
    assert _secret_values(raw) == {"hf_TOP_SECRET_VALUE"}
    assert "hf_TOP_SECRET_VALUE" not in json.dumps(_strip_secrets(raw))
    # Services wait for the secret they read.
    secret_urn = next(urn for urn in monitor.resources if "Secret" in urn)
    workloads = [r for r in monitor.requests if r.type in ("kubernetes:ray.io/v1:RayService", "kubernetes:apps/v1:Deployment")]
    assert workloads and all(secret_urn in r.dependencies for r in workloads)


def _secret_values(node: Any, inside: bool = False) -> set[str]:
    if isinstance(node, dict):
        if node.get(SECRET_SIG) == rpc._special_secret_sig:
            return _secret_values(node["value"], True)
        return set().union(*(_secret_values(v, inside) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_secret_values(v, inside) for v in node)) if node else set()
    return {node} if inside and isinstance(node, str) else set()


def _strip_secrets(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get(SECRET_SIG) == rpc._special_secret_sig:
            return "[secret]"
        return {k: _strip_secrets(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_strip_secrets(v) for v in node]
    return node


def test_stack_outputs(recorded: Any) -> None:
    monitor, built = recorded
    out = monitor.stack_outputs
    assert out["namespace"] == "reference"
    assert out["endpoints"] == {
        "chat": "http://chat.reference.svc.cluster.local:8000",
        "sentiment": "http://sentiment.reference.svc.cluster.local:8000",
        "feast-server": "http://feast-server.reference.svc.cluster.local:6566",
    }
    assert out["openai_base_urls"] == {"chat": "http://chat.reference.svc.cluster.local:8000/v1"}
    assert out["plan"]["services"] == 2
    assert out["plan"]["max_gpus"] == (4 if built.loaded.stack.target.type == "eks" else 0)


def test_undeclared_secret_in_config_is_an_error() -> None:
    with pytest.raises(Exception, match="stackdef:secrets.other: not a secret the spec declares"):
        run_program(BLUEPRINTS["reference-kind"], {"stackdef:secrets": json.dumps({"other": {"k": "v"}})}, ["stackdef:secrets"])


def test_plaintext_secrets_config_is_refused() -> None:
    with pytest.raises(Exception, match="stored in plain text"):
        run_program(BLUEPRINTS["reference-kind"], {"stackdef:secrets": json.dumps({"hf-token": {"token": "x"}})})


def test_program_refuses_targets_that_declare_no_deploy() -> None:
    from stackdef.deploy.program import program

    pulumi.runtime.set_mocks(Echo(), project="stackdef", stack="test", preview=True)
    with pytest.raises(pulumi.RunError, match="creating eks clusters comes in a later stackdef release"):
        program(BLUEPRINTS["reference-eks"])


def test_program_connects_to_an_existing_kind_cluster(tmp_path, monkeypatch) -> None:
    from stackdef.deploy.program import program

    fake = tmp_path / "kind"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1 $2" in\n'
        '  "get clusters") echo stackdef ;;\n'
        '  "get kubeconfig") printf "apiVersion: v1\\nkind: Config\\ncurrent-context: kind-stackdef\\n" ;;\n'
        "  *) exit 3 ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    monitor = RecordingMonitor(Echo())
    pulumi.runtime.set_mocks(Echo(), project="stackdef", stack="test", preview=True, monitor=monitor)
    pulumi.runtime.set_all_config({}, [])

    @pulumi.runtime.test
    def run() -> Any:
        stack = program(BLUEPRINTS["reference-kind"])
        return pulumi.Output.all(*stack.endpoints.values())

    run()
    (provider,) = [r for r in monitor.requests if r.type == "pulumi:providers:kubernetes"]
    inputs = rpc.deserialize_properties(provider.object)
    assert inputs["context"] == "kind-stackdef"
    # The kubeconfig holds kind's admin key: it reaches the engine only as a secret.
    raw = json_format.MessageToDict(provider.object)
    assert raw["kubeconfig"][SECRET_SIG] == rpc._special_secret_sig
    assert "current-context: kind-stackdef" in raw["kubeconfig"]["value"]
    # Every Kubernetes resource goes through that provider.
    k8s = [r for r in monitor.requests if r.custom and r.type.startswith("kubernetes:")]
    provider_ref = next(urn for urn in monitor.resources if urn.endswith("pulumi:providers:kubernetes::k8s")) + "::k8s-id"
    assert k8s and {r.provider for r in k8s} == {provider_ref}


def test_workloads_wait_as_long_as_their_startup_probe_allows(recorded: Any) -> None:
    monitor, built = recorded
    if built.loaded.stack.target.type != "kind":
        # RayServices are custom resources pulumi-kubernetes does not await; nothing else waits on pods.
        assert all(not r.customTimeouts.create for r in monitor.requests if r.type.startswith("kubernetes:"))
        return
    (dep,) = [r for r in _by_type(monitor, "kubernetes:apps/v1:Deployment") if r.name.endswith("-chat")]
    chat = built.loaded.stack.services[0]
    startup = json_format.MessageToDict(dep.object)["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    probe_budget = startup["periodSeconds"] * startup["failureThreshold"]
    assert probe_budget == chat.loading_timeout_s
    # Pulumi's default 10-minute await would give up long before; it waits for image pull + startup probe.
    expected = f"{chat.loading_timeout_s + 600}s"
    assert (dep.customTimeouts.create, dep.customTimeouts.update) == (expected, expected)
    (svc,) = [r for r in _by_type(monitor, "kubernetes:core/v1:Service") if r.name.endswith("-chat")]
    assert svc.customTimeouts.create == expected  # a Service is awaited until it has endpoints

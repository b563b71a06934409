"""A service kind, a layer and a target defined only in tests/plugins/ plug in through the
registries alone: spec, rules, resolve, compile, plan, cost, render and the Pulumi edge all
handle them with no edit to stackdef, and the core never names a kind, layer or target."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from stackdef import registry
from stackdef.catalog.prices import PriceCatalog, read_csv
from stackdef.compile import compile_stack
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.plan import build_plan
from stackdef.render import render_files
from stackdef.resolve import resolve
from stackdef.spec.stack import stack_model
from tests.k8s_validate import validate_manifests
from tests.plugins.audit_layer import AuditLayer
from tests.plugins.echo_kind import EchoKind
from tests.plugins.onprem_target import OnpremConnector, OnpremPlan
from tests.util import REPO

PRICES = "provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\nonprem,rack-node,dc1,,0,16,64,0.5\n"


@pytest.fixture
def plugged(tmp_path: Path) -> Any:
    (tmp_path / "p.csv").write_text(PRICES)
    with registry.plugged(EchoKind(), AuditLayer(), (OnpremPlan(), OnpremConnector())):
        yield PriceCatalog.default(tuple(read_csv(tmp_path / "p.csv")))


def spec() -> dict[str, Any]:
    return {
        "name": "plug",
        "target": {"type": "onprem", "site": "dc1"},
        "services": [
            {"type": "echo", "name": "hello", "text": "hi", "autoscaling": {"min_replicas": 2, "max_replicas": 2}},
            {"type": "model", "name": "ranker", "import_path": "app:app", "deployment": "Ranker"},
        ],
        "audit": {"retention_days": 7, "replicas": 2},
        "budget": {"monthly_usd": 5000, "policy": "fail"},
    }


def test_the_stack_model_gains_the_kind_the_layer_and_the_target(plugged: Any) -> None:
    schema = stack_model().model_json_schema(by_alias=True)
    assert {"EchoService", "AuditSection", "OnpremTarget"} <= set(schema["$defs"])
    assert "echo" in schema["properties"]["services"]["description"]
    assert schema["properties"]["audit"]["anyOf"][0]["$ref"].endswith("AuditSection")


def test_rules_and_errors_reach_the_plugins_fields(plugged: Any) -> None:
    d = spec()
    d["services"][0]["text"] = " hi "
    d["services"][0]["colour"] = "red"
    d["audit"]["replicas"] = 9
    with pytest.raises(SpecError) as exc:
        validate_stack(d, "s.yaml")
    paths = [i.path for i in exc.value.issues]
    assert paths == ["audit.replicas", "services[0].colour"]
    d = spec()
    d["services"][0]["text"] = " hi "
    with pytest.raises(SpecError) as exc:
        validate_stack(d, "s.yaml")
    assert [i.format("s.yaml") for i in exc.value.issues] == ["s.yaml: services[0].text: text has leading or trailing spaces (trim it)"]


def test_resolve_compile_plan_and_cost_handle_the_plugins(plugged: Any) -> None:
    rst = resolve(validate_stack(spec()), prices=plugged)
    compiled = compile_stack(rst)
    names = [c.name for c in compiled.components]
    assert names == ["namespace", "kuberay-operator", "hello", "ranker", "audit"]
    assert validate_manifests(compiled.objects()) == []
    plan = build_plan(compiled).to_json()
    hello = plan["services"][0]
    assert (hello["type"], hello["mode"], hello["text"]) == ("echo", "echo-deployment", "hi")
    assert plan["layers"] == {"audit": {"retention_days": 7, "replicas": 2, "images": ["hashicorp/http-echo:1.0"]}}
    assert plan["target_unsupported"] == ["create_cluster", "deploy"]
    # The layer's two sinks (2 × 0.25 CPU) and the echo pods count in the requests and the CPU pool.
    base = plan["requests"]["baseline"]
    assert base["cpu"] == pytest.approx(2 * 0.1 + 2 * 0.25 + (2 + 0.5 + 1) + 0.1)
    cost = plan["cost"]
    assert cost["fixed"] == [{"item": "rack lease", "monthly_usd": 730.0}]
    pool = 0.5 * 730
    # 4.3 CPU of pods on 15 allocatable: one rack node; the stack total is fixed + that node.
    assert cost["baseline_monthly_usd"] == pytest.approx(730 + pool)
    parts = [s["baseline_monthly_usd"] for s in cost["services"]] + [p["baseline_monthly_usd"] for p in cost["cpu_pool"]]
    audit = rst.layers[0].cost.baseline_monthly_usd
    assert sum(parts) + audit + 730 == pytest.approx(cost["baseline_monthly_usd"], abs=0.02)
    files = render_files(compiled, build_plan(compiled))
    assert "20-hello.yaml" in files and "40-audit.yaml" in files


def test_the_pulumi_edge_registers_the_plugins_resources(plugged: Any) -> None:
    import pulumi
    from stackdef.providers.base import ClusterConnection

    from stackdef.deploy.program import deploy
    from stackdef.loader import LoadedStack
    from stackdef.pipeline import Built
    from tests.test_deploy_mocks import Echo, RecordingMonitor

    rst = resolve(validate_stack(spec()), prices=plugged)
    compiled = compile_stack(rst)
    built = Built(LoadedStack(stack=rst.stack, source="plug"), compiled, build_plan(compiled))
    monitor = RecordingMonitor(Echo())
    pulumi.runtime.set_mocks(Echo(), project="stackdef", stack="test", preview=True, monitor=monitor)
    pulumi.runtime.set_all_config({}, [])

    @pulumi.runtime.test
    def program() -> Any:
        stack = deploy(built, ClusterConnection(kubeconfig="apiVersion: v1\nkind: Config\n", context="onprem"))
        return pulumi.Output.all(*stack.endpoints.values())

    program()
    registered = {(r.type, r.name) for r in monitor.requests}
    assert ("kubernetes:apps/v1:Deployment", "deployment-plug-hello") in registered
    assert ("kubernetes:apps/v1:Deployment", "deployment-plug-audit-sink") in registered
    assert ("stackdef:index:Component", "audit") in registered


def test_unplugged_they_are_gone() -> None:
    with pytest.raises(SpecError) as exc:
        validate_stack(spec(), "s.yaml")
    lines = [i.format("s.yaml") for i in exc.value.issues]
    assert any(line.startswith("s.yaml: target: input tag 'onprem'") for line in lines)
    assert any(line.startswith("s.yaml: services[0]: input tag 'echo'") for line in lines)
    assert any(line.startswith("s.yaml: audit: unknown field 'audit'") for line in lines)


#: Core modules: they may loop over registries but never name a kind, a layer or a target.
CORE = [
    "stackdef/compile/__init__.py",
    "stackdef/compile/common.py",
    "stackdef/compile/network.py",
    "stackdef/compile/model.py",
    "stackdef/plan/build.py",
    "stackdef/plan/model.py",
    "stackdef/plan/views.py",
    "stackdef/cost.py",
    "stackdef/resolve/__init__.py",
    "stackdef/resolve/budgets.py",
    "stackdef/resolve/context.py",
    "stackdef/resolve/model.py",
    "stackdef/render.py",
    "stackdef/pipeline.py",
    "stackdef/spec/rules.py",
    "stackdef/spec/stack.py",
    "stackdef/deploy/components.py",
    "stackdef/deploy/program.py",
    "stackdef/deploy/automation.py",
]


def test_core_modules_name_no_kind_layer_or_target() -> None:
    names = {*registry.KINDS.names(), *registry.TARGETS.names(), *registry.LAYERS.names(), "llm-ray", "llm-cpu", "model-ray"}
    # "kind" (every manifest's field) and "model" (a sizing field) are words too: as literals they are
    # flagged only when compared with a type, mode, kind or target.
    # "data" (the data layer) is also a Kubernetes field: a Secret's or a ConfigMap's contents.
    literal_names = names - {"kind", "model", "data"}  # "model" is also a field of sizing
    offenders = []
    for rel in CORE:
        tree = ast.parse((REPO / rel).read_text(encoding="utf-8"))
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings and node.value in literal_names:
                offenders.append(f"{rel}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                attrs = {s.attr for s in sides if isinstance(s, ast.Attribute)}
                consts = {s.value for s in sides if isinstance(s, ast.Constant)}
                if attrs & {"type", "mode", "kind", "target"} and consts & names:
                    offenders.append(f"{rel}:{node.lineno}: compares {attrs} with {consts & names}")
    assert offenders == []

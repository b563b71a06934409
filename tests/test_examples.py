"""Shipped examples: every one validates and plans; a YAML spec and its Python twin
compile to byte-identical output (the same spec in both forms)."""

from __future__ import annotations

import pytest

from stackdef.pipeline import build
from stackdef.render import render_files
from tests.k8s_validate import validate_manifests
from tests.util import BLUEPRINTS, REPO

EXAMPLES = sorted(
    p.relative_to(REPO).as_posix() for p in [*(REPO / "examples").glob("*.yaml"), *(REPO / "blueprints").glob("*/*.yaml")]
)


@pytest.mark.parametrize("path", EXAMPLES)
def test_example_validates_plans_and_renders_valid_manifests(path: str) -> None:
    built = build(str(REPO / path))
    assert built.plan.services
    assert validate_manifests(built.compiled.objects()) == []


def test_yaml_and_python_forms_render_identically() -> None:
    from_yaml = build(str(REPO / "blueprints/reference/stack_eks.yaml"))
    from_python = build(BLUEPRINTS["reference-eks"])
    assert from_yaml.loaded.stack.model_dump() == from_python.loaded.stack.model_dump()
    assert render_files(from_yaml.compiled, from_yaml.plan) == render_files(from_python.compiled, from_python.plan)


def test_planner_example_is_capped_by_its_budget() -> None:
    cost = build(str(REPO / "examples/llama70b-auto-gke.yaml")).plan.to_json()["cost"]
    (llama,) = cost["services"]
    assert (llama["instance_type"], llama["gpus_per_replica"]) == ("g2-standard-48", 4)
    assert llama["cut"]["from_max_replicas"] == 4 and llama["max_replicas"] == 3
    assert cost["ceiling_monthly_usd"] <= 10000

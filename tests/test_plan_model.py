"""The typed plan reads back from its own JSON (``diff`` and other tools may keep plans as files)."""

from __future__ import annotations

import json

import pytest

from stackdef.pipeline import build
from stackdef.plan.model import Plan
from tests.util import BLUEPRINTS, REPO

SPECS = [*BLUEPRINTS.values(), str(REPO / "examples/llama70b-auto-gke.yaml")]


@pytest.mark.parametrize("spec", SPECS)
def test_plan_json_round_trips_through_the_model(spec: str) -> None:
    plan = build(spec).plan
    doc = json.loads(json.dumps(plan.to_json(), allow_nan=False))
    again = Plan.model_validate(doc)
    assert again.to_json() == doc
    assert [s.name for s in again.services] == [s.name for s in plan.services]
    assert again.services[0].details == plan.services[0].details

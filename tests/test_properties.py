"""Property: any spec either compiles to valid manifests or raises SpecError naming a field.

Never another exception. Every manifest of a compiled stack goes through the
strict Kubernetes / CRD validator.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings

from stackdef.compile import compile_stack
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.resolve import resolve
from tests.k8s_validate import validate_manifests
from tests.strategies import stacks


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=stacks())
def test_any_spec_compiles_to_valid_manifests_or_names_the_field(data: dict[str, Any]) -> None:
    try:
        # Resolve raises SpecError too: GPU fit, vLLM's own rules, budgets.
        resolved = resolve(validate_stack(data, "p.yaml"))
    except SpecError as exc:
        event("invalid spec")
        assert exc.issues
        for issue in exc.issues:
            assert issue.problem
            assert issue.path, f"issue without a field path: {issue}"
        return
    event("valid spec")
    objects = compile_stack(resolved).objects()
    assert objects
    errors = validate_manifests(objects)
    assert errors == [], "\n".join(errors)

"""Fuzzing every shipped example and blueprint: mutated at the field level and the YAML level,
every offline command ends with exit 0, 1 or 2, one line per problem naming its source, no
traceback, within 2 s per command, and a failed render leaves its folder as it was.
(`python bench/fuzz.py N` runs the same cases in bulk and prints a table.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import CLASSES, check, make_case, seeds

SEEDS = seeds()


def test_every_shipped_spec_is_a_seed() -> None:
    names = {s.name for s in SEEDS}
    assert {"examples/llama70b-auto-gke.yaml", "blueprints/reference/stack_eks.yaml", "blueprints/reference/stack.py"} <= names


@settings(max_examples=160, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(range(len(SEEDS))), cls=st.sampled_from(CLASSES), salt=st.integers(0, 2**32 - 1))
def test_mutated_specs_never_crash(tmp_path: Path, seed: int, cls: str, salt: int) -> None:
    case = make_case(SEEDS[seed], cls, random.Random(salt))
    outcome = check(case, tmp_path / f"case-{seed}-{cls}-{salt}")
    assert outcome.problems == [], f"{SEEDS[seed].name} / {cls} / {salt}:\n" + "\n".join(outcome.problems)


@pytest.mark.parametrize("cls", CLASSES)
def test_each_mutation_class_on_each_seed(tmp_path: Path, cls: str) -> None:
    rng = random.Random(cls)
    for i, seed in enumerate(SEEDS):
        outcome = check(make_case(seed, cls, rng), tmp_path / f"{i}")
        assert outcome.problems == [], f"{seed.name} / {cls}:\n" + "\n".join(outcome.problems)

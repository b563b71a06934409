"""Fuzzing every shipped example and blueprint: mutated at the field level and the YAML level,
every offline command ends with exit 0, 1 or 2, one line per problem naming its source, no
traceback, within 2 s per command, and a failed render leaves its folder as it was.
(`python bench/fuzz.py N` runs the same cases in bulk and prints a table.)"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import CLASSES, check, make_case, models_in, seeds, spec_models

SEEDS = seeds()


def test_every_shipped_spec_is_a_seed() -> None:
    names = {s.name for s in SEEDS}
    assert {"examples/llama70b-auto-gke.yaml", "blueprints/reference/stack_eks.yaml", "blueprints/reference/stack.py"} <= names


def test_the_seeds_use_every_spec_model(tmp_path: Path) -> None:
    """Mutations only reach what a seed declares: every model of the spec (each union member,
    each layer's section) must appear in some shipped example or blueprint. A new spec section
    joins the fuzz harness by getting an example."""
    from stackdef.loader import load
    from stackdef.spec.stack import stack_model

    used: set[type] = set()
    for i, seed in enumerate(SEEDS):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "stack.yaml").write_text(seed.text)
        for rel, src in seed.beside.items():
            shutil.copytree(src, folder / rel)
        used |= models_in(load(str(folder / "stack.yaml")).stack)
    missing = sorted(c.__qualname__ for c in spec_models(stack_model()) - used)
    assert missing == [], f"no shipped example or blueprint declares {missing}: add one to examples/"


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

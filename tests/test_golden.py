"""Golden files: the rendered output of every shipped blueprint, byte for byte.

Run ``pytest tests/test_golden.py --update-golden`` after an intended change
and review the diff of ``tests/golden/``.
"""

from __future__ import annotations

import shutil

import pytest

from stackdef.pipeline import build
from stackdef.render import render_files
from tests.util import BLUEPRINTS, REPO

GOLDEN = REPO / "tests" / "golden"


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_render_matches_golden(name: str, update_golden: bool) -> None:
    built = build(BLUEPRINTS[name])
    files = render_files(built.compiled, built.plan)
    folder = GOLDEN / name
    if update_golden:
        shutil.rmtree(folder, ignore_errors=True)
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
    assert folder.is_dir(), f"no golden files for {name}: run pytest --update-golden"
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == set(files), "rendered file set differs from golden (run --update-golden and review)"
    for rel, text in files.items():
        assert (folder / rel).read_text(encoding="utf-8") == text, f"{name}/{rel} differs from golden"


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_render_is_deterministic(name: str) -> None:
    a = build(BLUEPRINTS[name])
    b = build(BLUEPRINTS[name])
    assert render_files(a.compiled, a.plan) == render_files(b.compiled, b.plan)

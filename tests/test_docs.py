"""The README a new user reads is true: its YAML and Python specs are the same valid stack,
it says how to run stackdef after `make demo`, and no user-facing text points outside the repo."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from stackdef.loader import validate_stack
from tests.util import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_yaml_and_python_examples_are_the_same_valid_stack() -> None:
    (python_src,) = [b for b in blocks("python") if "Stack(" in b]
    namespace: dict = {}
    exec(compile(python_src, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    from_python = validate_stack(namespace["stack"])
    (yaml_src,) = [b for b in blocks("yaml") if "kind: Stack" in b]
    from_yaml = validate_stack(yaml.safe_load(yaml_src), "README.md")
    assert from_yaml == from_python


def test_readme_says_how_to_run_stackdef_after_make_demo_and_points_to_examples() -> None:
    assert ".venv/bin/stackdef" in README and "source .venv/bin/activate" in README
    assert "(examples/)" in README
    for path in re.findall(r"`(examples/[\w./-]+)`", README):
        assert (REPO / path).exists(), path


def test_no_user_facing_text_names_paths_outside_the_repo() -> None:
    texts = {"README.md": README}
    for cmd in (["schema"], ["--help"], *[[c, "--help"] for c in ("validate", "plan", "render", "cost", "diff", "graph", "up", "preview", "destroy")]):
        proc = subprocess.run([sys.executable, "-m", "stackdef.cli", *cmd], cwd=REPO, capture_output=True, text=True, timeout=60)
        texts[" ".join(cmd)] = proc.stdout + proc.stderr
    for path in (REPO / "stackdef" / "templates").glob("*.j2"):
        texts[path.name] = path.read_text(encoding="utf-8")
    for name, text in texts.items():
        assert "shared/" not in text and "../shared" not in text, name

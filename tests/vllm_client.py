"""Run a tool of tests/tools (vllm_check.py, vllm_kv.py) in the separate vLLM venv on a batch of cases.

The venv's python comes from ``STACKDEF_VLLM_PYTHON`` (``make test`` sets it
from ``.ci/setup-vllm-venv.sh``). Without it the calling test FAILS: a missing
venv must never turn into a green run. One subprocess per batch (importing
vLLM costs ~9 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "tests" / "tools" / "vllm_check.py"
KV_TOOL = REPO / "tests" / "tools" / "vllm_kv.py"
CONFIGS = REPO / "tests" / "data" / "model_configs"
ENV_VAR = "STACKDEF_VLLM_PYTHON"
TIMEOUT_S = 600


def model_config(name: str) -> dict:
    return json.loads((CONFIGS / name / "config.json").read_text())


def run_checker(cases: list[dict], tool: Path = CHECKER) -> dict:
    """Cases name a shipped config with ``model`` (or carry ``model_config``); returns the tool's JSON plus ``by_id``."""
    python = os.environ.get(ENV_VAR)
    if not python:
        pytest.fail(
            f"{ENV_VAR} is not set. Build the vLLM venv and export its python:\n"
            f"  export {ENV_VAR}=$(bash .ci/setup-vllm-venv.sh)",
            pytrace=False,
        )
    if not Path(python).is_file():
        pytest.fail(f"{ENV_VAR}={python} does not exist; run .ci/setup-vllm-venv.sh", pytrace=False)
    payload = {"cases": []}
    for case in cases:
        c = {k: v for k, v in case.items() if k != "model"}
        if "model_config" not in c:
            c["model_config"] = model_config(case["model"])
        payload["cases"].append(c)
    t0 = time.monotonic()
    proc = subprocess.run(
        [python, str(tool)], input=json.dumps(payload), capture_output=True, text=True, timeout=TIMEOUT_S, cwd=REPO
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, f"checker exited {proc.returncode}\n{proc.stderr[-4000:]}"
    try:
        out = json.loads(proc.stdout)  # stdout must be exactly one JSON document
    except json.JSONDecodeError as exc:
        raise AssertionError(f"stdout is not pure JSON ({exc}):\n{proc.stdout[:2000]}") from None
    print(f"{tool.name} batch: {len(cases)} cases in {elapsed:.1f}s (import {out.get('import_seconds')}s)", file=sys.stderr)
    out["by_id"] = {r["id"]: r for r in out["results"]}
    out["elapsed"] = elapsed
    return out

#!/usr/bin/env python3
"""Validate Mermaid text with mermaid's REAL parser (parse_mermaid.mjs, via node).

Exists so tests can assert that generated diagrams parse, without a browser.
Needs node and ``bash .ci/setup-node-tools.sh`` (installs node_modules here).

    from tests.tools.node.mermaid_check import parse_many
    parse_many(["flowchart LR\\n  a --> b"])  # [{"ok": True, "type": "flowchart-v2"}]

CLI: ``python tests/tools/node/mermaid_check.py FILE...``; a ``.md`` file is checked
block by block (```mermaid fences), any other file as one diagram. Exit 1 if
any diagram fails to parse.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETUP = "run bash .ci/setup-node-tools.sh"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("mermaid check: 'node' not found on PATH (need Node >= 20.19)")
    nm = HERE / "node_modules"
    if not (nm / "mermaid").is_dir() or not (nm / "jsdom").is_dir():
        raise RuntimeError(f"mermaid check: {nm} missing; {SETUP}")
    want = hashlib.sha256((HERE / "package.json").read_bytes() + (HERE / "package-lock.json").read_bytes())
    stamp = nm / ".stackdef-lock.sha256"
    if not stamp.is_file() or stamp.read_text().strip() != want.hexdigest():
        raise RuntimeError(f"mermaid check: {nm} is stale for package-lock.json; {SETUP}")
    return node


def parse_many(diagrams: list[str], timeout: float = 120) -> list[dict]:
    """One node process for the whole batch; one result dict per diagram."""
    if not diagrams:
        return []
    try:
        proc = subprocess.run(
            [_node(), str(HERE / "parse_mermaid.mjs")],
            input=json.dumps(diagrams),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=HERE,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"mermaid check: parse_mermaid.mjs timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no stderr"])[-1]
        raise RuntimeError(f"mermaid check: parse_mermaid.mjs exited {proc.returncode}: {last}")
    results = json.loads(proc.stdout)
    if len(results) != len(diagrams):
        raise RuntimeError(f"mermaid check: {len(results)} results for {len(diagrams)} diagrams")
    return results


def _diagrams(path: Path) -> list[tuple[str, str]]:
    text = path.read_text()
    if path.suffix.lower() != ".md":
        return [(str(path), text)]
    out = []
    for m in re.finditer(r"^```mermaid[ \t]*\n(.*?)^```", text, re.M | re.S):
        out.append((f"{path}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1)))
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    items = [d for a in argv for d in _diagrams(Path(a))]
    bad = 0
    for (where, _), r in zip(items, parse_many([src for _, src in items]), strict=True):
        bad += not r["ok"]
        print(f"{where}: {'ok ' + r['type'] if r['ok'] else 'ERROR ' + r['error']}")
    print(f"mermaid: {len(items) - bad} ok, {bad} with errors" if items else "mermaid: no diagrams found")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

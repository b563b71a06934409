"""Cold-process wall time of `stackdef plan` for stacks of 1, 10 and 100 services.

Each row is the median of N fresh processes (default 7). The floor — a bare
Python start and a start plus `import pydantic` — is measured in the same run,
so the table says how much of the time is stackdef's own. Targets: reference
plan ≤ 1.0 s, 100 services ≤ 2 s, growth linear in services.

    python bench/plan_speed.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def stack(n: int) -> dict:
    services = []
    for i in range(n):
        if i % 2 == 0:
            services.append(
                {
                    "type": "llm",
                    "name": f"llm-{i}",
                    "source": "Qwen/Qwen2.5-7B-Instruct",
                    "engine": {"dtype": "bfloat16", "max_model_len": 8192},
                    "accelerator": {"type": "L4"},
                    "autoscaling": {"min_replicas": 0, "max_replicas": 4},
                }
            )
        else:
            services.append(
                {
                    "type": "model",
                    "name": f"model-{i}",
                    "import_path": "app:app",
                    "deployment": "Model",
                    "autoscaling": {"min_replicas": 1, "max_replicas": 3},
                }
            )
    return {"apiVersion": "stackdef.dev/v1alpha1", "name": f"bench-{n}", "target": {"type": "eks", "region": "us-east-1"}, "services": services}


def median_wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    rows: list[tuple[str, float]] = []
    rows.append(("python -c pass (floor)", median_wall([py, "-c", "pass"], args.runs)))
    rows.append(("python -c 'import pydantic' (floor)", median_wall([py, "-c", "import pydantic"], args.runs)))
    rows.append(
        ("plan blueprints/reference (table)", median_wall([py, "-m", "stackdef.cli", "plan", "blueprints/reference"], args.runs))
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 10, 100):
            f = Path(tmp) / f"stack-{n}.yaml"
            f.write_text(yaml.safe_dump(stack(n)))
            rows.append(
                (f"plan {n} services (json)", median_wall([py, "-m", "stackdef.cli", "plan", str(f), "--format", "json"], args.runs))
            )
    floor = rows[1][1]
    print(f"| case | median wall (s), {args.runs} runs | above `import pydantic` (s) |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {t - floor:+.3f} |")
    per = (rows[-1][1] - rows[-3][1]) / 99
    print(f"\nper added service: {per * 1000:.2f} ms (from 1 → 100 services)")


if __name__ == "__main__":
    main()

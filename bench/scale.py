"""How stackdef scales: cold-process wall time for stacks of 1 to 3,000 services.

    python bench/scale.py [--runs 3] [--sizes 1,10,100,1000,3000]

Each cell is the median of N fresh processes. The floor (``python -c
"import pydantic"`` on the same interpreter) is measured in the same run. The
last columns give the marginal ms per service ((t(n) − t(1)) / (n − 1)) at
100 services and at the largest size, and their ratio (linear: ≈ 1). Targets:
plan and validate of 1,000 services ≤ 2 s, render ≤ 3 s, all linear
(ms/service at 3,000 within 1.3× of that at 100), a stack cap budget over
3,000 services linear, a service cap with max_replicas at its bound in
milliseconds, and a cold plan of the reference blueprint ≤ 3× the floor.
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


def stack(n: int, budget: dict | None = None) -> dict:
    services = []
    for i in range(n):
        if i % 2 == 0:
            services.append(
                {
                    "type": "llm",
                    "name": f"llm-{i}",
                    "source": "Qwen/Qwen2.5-7B-Instruct",
                    "engine": {"dtype": "bfloat16", "max_model_len": 8192, "max_num_seqs": 8},
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
    d = {"apiVersion": "stackdef.dev/v1alpha1", "name": f"bench-{n}", "target": {"type": "eks", "region": "us-east-1"}, "services": services}
    if budget:
        d["budget"] = budget
    return d


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="1,10,100,1000,3000")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    py = sys.executable
    cli = [py, "-m", "stackdef.cli"]
    floor = wall([py, "-c", "import pydantic"], max(a.runs, 7))
    ref = wall([*cli, "plan", "blueprints/reference"], max(a.runs, 7))
    print(f"floor `python -c 'import pydantic'`: {floor:.3f} s; cold `plan blueprints/reference` (table): {ref:.3f} s = {ref / floor:.2f}× the floor\n")
    commands = {
        "plan -f json": lambda f, o: [*cli, "plan", f, "-f", "json"],
        "validate": lambda f, o: [*cli, "validate", f],
        "cost -f json": lambda f, o: [*cli, "cost", f, "-f", "json"],
        "render": lambda f, o: [*cli, "render", f, "-o", o],
    }
    results: dict[str, dict[int, float]] = {c: {} for c in commands}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            f = Path(tmp) / f"stack-{n}.yaml"
            f.write_text(yaml.safe_dump(stack(n), sort_keys=False))
            for name, make in commands.items():
                results[name][n] = wall(make(str(f), str(Path(tmp) / f"out-{n}")), a.runs)
        print("| command | " + " | ".join(f"{n} svc (s)" for n in sizes) + " | ms/service at 100 | at max | growth |")
        print("|---|" + "---:|" * (len(sizes) + 3))
        for name, row in results.items():
            # The marginal cost of a service: what n services add over one.
            per = {n: 1000 * (row[n] - row[sizes[0]]) / (n - sizes[0]) for n in sizes if n > sizes[0]}
            lo = per.get(100, next(iter(per.values())))
            hi = per[sizes[-1]]
            print(f"| {name} | " + " | ".join(f"{row[n]:.2f}" for n in sizes) + f" | {lo:.2f} | {hi:.2f} | {hi / lo:.2f}× |")
        # Budgets: a stack cap over the largest stack (cuts in reverse order), and a service cap at the int32 bound.
        big = sizes[-1]
        spec = Path(tmp) / f"stack-{big}.yaml"
        doc = subprocess.run([*cli, "cost", str(spec), "-f", "json"], cwd=REPO, capture_output=True, text=True, check=True).stdout
        import json

        cost = json.loads(doc)["cost"]
        budget = round((cost["baseline_monthly_usd"] + cost["ceiling_monthly_usd"]) / 2)  # forces cuts across half the services
        f = Path(tmp) / "cap.yaml"
        f.write_text(yaml.safe_dump(stack(big, {"monthly_usd": budget, "policy": "cap"}), sort_keys=False))
        cap = wall([*cli, "plan", str(f), "-f", "json"], a.runs)
        one = stack(1)
        one["services"][0]["autoscaling"]["max_replicas"] = 2**31 - 1
        one["services"][0]["budget"] = {"monthly_usd": 5000, "policy": "cap"}
        g = Path(tmp) / "bound.yaml"
        g.write_text(yaml.safe_dump(one, sort_keys=False))
        bound = wall([*cli, "plan", str(g), "-f", "json"], a.runs)
        print(f"\nstack cap budget over {big} services: {cap:.2f} s ({1000 * (cap - results['plan -f json'][big]) / big:+.2f} ms/service over the uncapped plan)")
        print(f"service cap with max_replicas 2^31-1: {bound:.3f} s ({1000 * (bound - results['plan -f json'][1]):+.0f} ms over the uncapped 1-service plan)")


if __name__ == "__main__":
    main()

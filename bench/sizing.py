"""Planner quality and speed over the whole catalog: the choice against a brute force.

The grid and the brute force are tests/test_sizing_bruteforce.py's (every catalog model ×
contexts up to its maximum × bf16 / fp8 / awq / gptq / bitsandbytes / compressed-tensors × the
priced regions of eks, gke and aks × replica ranges × utilizations; the brute force tries
every instance, GPU count and tensor × pipeline split against vLLM's rules and the memory
model). Prints outcomes by format and by cloud, planning time, and every disagreement; exits
non-zero on any.

    python bench/sizing.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackdef.catalog.models import catalog  # noqa: E402
from stackdef.catalog.prices import PriceCatalog  # noqa: E402
from stackdef.sizing import Workload, options, rank  # noqa: E402
from tests.test_sizing_bruteforce import CASES, REPLICAS, UTILS, brute, monthly_cents  # noqa: E402


def main() -> None:
    prices = PriceCatalog.default()
    by_format: dict[str, Counter[str]] = defaultdict(Counter)
    by_cloud: dict[str, Counter[str]] = defaultdict(Counter)
    times, disagreements = [], []
    for model, ctx, dtype, quant, region in CASES:
        instances = prices.gpu_instances(*region)
        for (lo, hi), util in [(r, u) for r in REPLICAS for u in UTILS]:
            work = Workload(catalog()[model], dtype, quant, ctx, None, util)
            t = time.perf_counter()
            ranked = rank(options(work, instances), lo, hi)
            times.append(time.perf_counter() - t)
            feasible = brute(work, instances, lo, hi)
            if not feasible:
                outcome = "fits nowhere" if not ranked else "WRONG: chose an infeasible config"
            elif not ranked:
                outcome = "WRONG: found nothing"
            else:
                c = ranked[0]
                best = min(f[0] for f in feasible)
                base = min(f[1] for f in feasible if f[0] == best)
                got = (monthly_cents(c.instance, c.gpus_per_replica, hi), monthly_cents(c.instance, c.gpus_per_replica, lo))
                outcome = "WRONG: costlier" if got != (best, base) else ("chosen, PP > 1" if c.pipeline_parallel > 1 else "chosen")
            if outcome.startswith("WRONG"):
                disagreements.append((model, ctx, dtype, quant, region, lo, hi, util, outcome))
            by_format[quant or dtype][outcome] += 1
            by_cloud[region[0]][outcome] += 1
    outcomes = ["chosen", "chosen, PP > 1", "fits nowhere"]
    for title, table in (("format", by_format), ("cloud", by_cloud)):
        print(f"| {title} | " + " | ".join(outcomes) + " | disagreements |")
        print("|---|" + "---:|" * (len(outcomes) + 1))
        for key, counts in table.items():
            wrong = sum(v for k, v in counts.items() if k.startswith("WRONG"))
            print(f"| {key} | " + " | ".join(str(counts[o]) for o in outcomes) + f" | {wrong} |")
        print()
    print(
        f"{len(times)} plans; disagreements with the brute force: {len(disagreements)}; planning time median "
        f"{statistics.median(times) * 1e6:,.0f} µs, max {max(times) * 1e6:,.0f} µs"
    )
    for d in disagreements:
        print("  ", d)
    if disagreements:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

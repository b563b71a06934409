"""Planner quality and speed over a grid: chosen vs brute-force cost, planning time.

For every catalog model × context × concurrency × cloud, the planner's choice
(:func:`stackdef.sizing.rank` over :func:`stackdef.sizing.options`) is compared
with an exhaustive search written independently here (every whole-GPU instance
× every GPU count, fit and cost recomputed from the documented formulas).
Prints one row per case and a summary; exits non-zero if the planner ever
costs more than the brute force.

    python bench/sizing.py
"""

from __future__ import annotations

import math
import statistics
import time

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import catalog
from stackdef.catalog.prices import PriceCatalog
from stackdef.cost import HOURS_PER_MONTH
from stackdef.sizing import Workload, options, rank

GIB = 2**30
REGIONS = [("aws", "us-east-1"), ("gcp", "us-central1"), ("azure", "eastus")]
MIN_R, MAX_R = 0, 4


def brute_force(arch, ctx: int, seqs: int, instances) -> tuple[float, str] | None:
    best = None
    for inst in instances:
        for g in (1, 2, 4, 8):
            if g > inst.whole_gpus or arch.attention_heads % g:
                continue
            needed = arch.params * 2 / GIB + 2 * arch.layers * arch.kv_heads * arch.head_dim * 2 * ctx * seqs / GIB + 1.5 * g
            offered = GPU_TYPES[inst.gpu].usable_mib / 1024 * 0.9 * g
            per_node = min(inst.whole_gpus // g, (inst.vcpu - 1) // 2, int((inst.ram_gib * 0.9 - 1) // 8))
            if needed > offered or per_node < 1:
                continue
            cost = math.ceil(MAX_R / per_node) * inst.usd_per_hour * HOURS_PER_MONTH
            if best is None or cost < best[0] - 1e-9:
                best = (cost, f"{g}× {inst.gpu} {inst.instance_type}")
    return best


def main() -> None:
    prices = PriceCatalog.default()
    rows, times, worse = [], [], 0
    for model, arch in sorted(catalog().items()):
        for ctx in (2048, 8192, 32768):
            ctx = min(ctx, arch.max_context)
            for seqs in (1, 8):
                for region in REGIONS:
                    instances = prices.gpu_instances(*region)
                    work = Workload(arch, "bfloat16", None, ctx, seqs, 0.9)
                    t = time.perf_counter()
                    ranked = rank(options(work, instances), MIN_R, MAX_R)
                    times.append(time.perf_counter() - t)
                    brute = brute_force(arch, ctx, seqs, instances)
                    chosen = ranked[0] if ranked else None
                    got = chosen.hourly(MAX_R) * HOURS_PER_MONTH if chosen else None
                    if got is not None and brute is not None and got > brute[0] + 1e-6:
                        worse += 1
                    if (got is None) != (brute is None):
                        worse += 1
                    rows.append(
                        (
                            model,
                            ctx,
                            seqs,
                            region[0],
                            f"{chosen.gpus_per_replica}× {chosen.instance.gpu} {chosen.instance.instance_type}" if chosen else "none fits",
                            f"{got:,.0f}" if got is not None else "—",
                            f"{brute[0]:,.0f}" if brute else "—",
                            f"{times[-1] * 1e6:,.0f}",
                        )
                    )
    print("| model | ctx | seqs | cloud | chosen (0–4 replicas) | chosen $/mo at max | brute-force $/mo | plan µs |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    print(
        f"\n{len(rows)} cases; planner worse than brute force in {worse}; planning time median "
        f"{statistics.median(times) * 1e6:,.0f} µs, max {max(times) * 1e6:,.0f} µs"
    )
    if worse:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

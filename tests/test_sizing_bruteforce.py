"""The planner against a brute force over the whole catalog.

Every catalog model × contexts up to its maximum × bf16 / fp8 / awq / gptq / bitsandbytes /
compressed-tensors × the priced regions of eks, gke and aks × two replica ranges × two
``gpu_memory_utilization`` values. The brute
force is written here without the planner's search: every whole-GPU instance, every GPU count
1/2/4/8 it holds, every tensor × pipeline split of that count; a configuration is feasible when
vLLM's rules (stackdef.vllm_rules) raise no error and the memory model (stackdef.memory) says
vLLM starts; its cost is whole nodes × hourly price × 730, nodes packed by GPUs, CPU and memory.

Asserted for every case: the planner finds nothing exactly when nothing is feasible; what it
chooses is feasible; no feasible configuration is cheaper at the ceiling in whole cents, nor,
at an equal ceiling, at the baseline.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from stackdef.catalog.models import catalog
from stackdef.catalog.prices import PriceCatalog
from stackdef.memory import replica_memory
from stackdef.sizing import Workload, engine, options, rank
from stackdef.vllm_rules import problems

REGIONS = [("aws", "us-east-1"), ("gcp", "us-central1"), ("azure", "eastus")]
FORMATS = [("bfloat16", None), ("bfloat16", "fp8"), ("float16", "awq"), ("float16", "gptq"), ("bfloat16", "bitsandbytes"), ("bfloat16", "compressed-tensors")]
REPLICAS = [(0, 4), (2, 3)]
#: gpu_memory_utilization: vLLM's default, and a quarter of each GPU (where the large models fit nowhere).
UTILS = [0.9, 0.25]


def contexts(max_context: int) -> list[int]:
    return sorted({c for c in (2048, 8192, 32768, max_context) if c <= max_context})


CASES = [
    (model, ctx, dtype, quant, region)
    for model, arch in sorted(catalog().items())
    for ctx in contexts(arch.max_context)
    for dtype, quant in FORMATS
    for region in REGIONS
]


def per_node(inst, gpus: int) -> int:
    # A node holds replicas by GPUs, by CPU (2 per pod of its vCPUs less one for the system) and by
    # memory (8 GiB per pod of 90% of its RAM less 1 GiB).
    return max(0, min(inst.whole_gpus // gpus, (inst.vcpu - 1) // 2, int((inst.ram_gib * 0.9 - 1) // 8)))


def monthly_cents(inst, gpus: int, replicas: int) -> int:
    nodes = math.ceil(replicas / per_node(inst, gpus)) if replicas else 0
    return int(nodes * inst.usd_per_hour * 730 * 100 + 0.5)


def brute(work: Workload, instances, lo: int, hi: int) -> list[tuple[int, int, str, int, int, int]]:
    """(ceiling cents, baseline cents, instance, gpus, tp, pp) of every feasible configuration."""
    out = []
    for inst in instances:
        for gpus in (1, 2, 4, 8):
            if gpus > inst.whole_gpus or per_node(inst, gpus) < 1:
                continue
            for pp in (1, 2, 4, 8):
                if gpus % pp:
                    continue
                tp = gpus // pp
                if any(not p.warning for p in problems(work.arch, work.choice, inst.gpu, tp, pp)):
                    continue
                if not replica_memory(work.arch, engine(work, inst.gpu, tp, pp), inst.gpu).fits:
                    continue
                out.append((monthly_cents(inst, gpus, hi), monthly_cents(inst, gpus, lo), inst.instance_type, gpus, tp, pp))
    return out


OUTCOMES: Counter[str] = Counter()


@pytest.mark.parametrize("model, ctx, dtype, quant, region", CASES, ids=lambda v: str(v))
def test_planner_matches_the_brute_force(model: str, ctx: int, dtype: str, quant: str | None, region: tuple[str, str]) -> None:
    arch = catalog()[model]
    instances = PriceCatalog.default().gpu_instances(*region)
    for (lo, hi), util in [(r, u) for r in REPLICAS for u in UTILS]:
        work = Workload(arch, dtype, quant, ctx, None, util)
        feasible = brute(work, instances, lo, hi)
        ranked = rank(options(work, instances), lo, hi)
        if not feasible:
            assert ranked == [], f"planner chose {ranked[0]} where nothing is feasible"
            OUTCOMES["fits nowhere"] += 1
            continue
        assert ranked, f"planner found nothing; feasible: {sorted(feasible)[:3]}"
        chosen = ranked[0]
        # Feasible by the documented rules.
        assert not [p for p in problems(arch, work.choice, chosen.instance.gpu, chosen.tensor_parallel, chosen.pipeline_parallel) if not p.warning]
        assert chosen.memory is not None and chosen.memory.fits
        assert chosen.tensor_parallel * chosen.pipeline_parallel == chosen.gpus_per_replica
        # Nothing feasible is cheaper: at the ceiling in cents, then at the baseline.
        best_ceiling = min(f[0] for f in feasible)
        best_baseline = min(f[1] for f in feasible if f[0] == best_ceiling)
        got = (monthly_cents(chosen.instance, chosen.gpus_per_replica, hi), monthly_cents(chosen.instance, chosen.gpus_per_replica, lo))
        assert got == (best_ceiling, best_baseline), (got, sorted(feasible)[:4])
        OUTCOMES["pp > 1" if chosen.pipeline_parallel > 1 else "chosen"] += 1


def test_the_brute_force_covers_every_outcome() -> None:
    # Run after the cases above (pytest keeps file order): the grid exercises choices with and
    # without pipeline stages and cases where nothing fits, so none of the branches is vacuous.
    if not OUTCOMES:  # selected on its own: run the cases here (about a second)
        for case in CASES:
            test_planner_matches_the_brute_force(*case)
    assert OUTCOMES["chosen"] and OUTCOMES["pp > 1"] and OUTCOMES["fits nowhere"], OUTCOMES
    assert sum(OUTCOMES.values()) == len(CASES) * len(REPLICAS) * len(UTILS)

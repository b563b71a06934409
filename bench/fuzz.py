"""Fuzz the offline commands with N mutated specs and print what happened.

    python bench/fuzz.py 10000 [--workers 2] [--seed 1]

Cases come from tests/fuzzing.py: every shipped example and blueprint,
mutated at the field level or the YAML level. Each case runs ``validate``,
``plan -f json``, ``cost -f json`` and ``render`` in-process. Outcomes:

- ``valid`` (exit 0), ``invalid`` (exit 1), ``usage`` (exit 2): the spec was
  handled as promised;
- ``internal``: an exit code other than 0/1/2, a traceback, an error line that
  does not name its source, non-strict JSON, or a failed render that changed
  its output folder;
- ``slow``: a command took over 2 s; ``hang``: a case did not finish in 20 s.

The tables list outcomes overall and by mutation class, and the first
problems found (with the seed and salt that reproduce them).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HANG_S = 20


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def _work(args: tuple[int, int, int, str]) -> list[tuple[str, str, str, float, list[str]]]:
    start, count, seed, tmp = args
    from tests.fuzzing import CLASSES, check, make_case, seeds

    signal.signal(signal.SIGALRM, _alarm)
    all_seeds = seeds()
    out = []
    for n in range(start, start + count):
        rng = random.Random(seed * 1_000_003 + n)
        s = all_seeds[n % len(all_seeds)]
        cls = CLASSES[(n // len(all_seeds)) % len(CLASSES)]
        case = make_case(s, cls, rng)
        signal.alarm(HANG_S)
        t0 = time.monotonic()
        try:
            outcome = check(case, Path(tmp) / f"w{os.getpid()}")
        except Hang:
            out.append(("hang", cls, f"{s.name} salt={n}", time.monotonic() - t0, [f"did not finish in {HANG_S} s"]))
            continue
        finally:
            signal.alarm(0)
        if outcome.problems:
            kind = "slow" if all("took" in p for p in outcome.problems) else "internal"
        else:
            kind = {0: "valid", 1: "invalid", 2: "usage"}.get(outcome.code, "internal")
        out.append((kind, cls, f"{s.name} salt={n}", outcome.seconds, outcome.problems))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stackdef-fuzz-") as tmp:
        chunk = max(1, a.n // (a.workers * 8))
        jobs = [(i, min(chunk, a.n - i), a.seed, tmp) for i in range(0, a.n, chunk)]
        with ProcessPoolExecutor(a.workers) as pool:
            results = [r for part in pool.map(_work, jobs) for r in part]
    wall = time.monotonic() - t0
    kinds = ("valid", "invalid", "usage", "internal", "slow", "hang")
    total = collections.Counter(r[0] for r in results)
    by_cls: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for kind, cls, *_ in results:
        by_cls[cls][kind] += 1
    slowest = max(results, key=lambda r: r[3])
    print(f"{len(results)} cases, {wall:.0f} s wall, {a.workers} workers; slowest case {slowest[3]:.2f} s ({slowest[1]}, {slowest[2]})\n")
    print("| outcome | cases | share |\n|---|---:|---:|")
    for k in kinds:
        print(f"| {k} | {total[k]} | {100 * total[k] / max(1, len(results)):.1f}% |")
    print("\n| mutation class | " + " | ".join(kinds) + " |\n|---|" + "---:|" * len(kinds))
    for cls in sorted(by_cls):
        print(f"| {cls} | " + " | ".join(str(by_cls[cls][k]) for k in kinds) + " |")
    bad = [r for r in results if r[0] in ("internal", "slow", "hang")]
    if bad:
        print("\nfirst problems:")
        for kind, cls, where, secs, problems in bad[:15]:
            print(f"- {kind} {cls} {where} ({secs:.1f} s): {problems[0][:300]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

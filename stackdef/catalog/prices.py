"""Instance prices per cloud / region / instance type, with their sources.

Built from ``data/gpu_prices.csv`` (``shared/gpu_prices.csv`` verbatim: each
row cites its price and spec source and date) and ``data/cpu_prices.csv`` (the
CPU node type each cloud's Ray heads, CPU workers and system pods are costed
on). Users add or override rows with their own CSV (negotiated rates, other
regions): same columns, matched on (provider, region, instance_type).
Fractional-GPU instances (e.g. Azure NV*ads_A10_v5 partitions) are kept for
reference but are never chosen by the planner.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from stackdef.catalog.gpus import gpu_from_price_row

_DATA = Path(__file__).parent / "data"
TARGET_CLOUD = {"eks": "aws", "gke": "gcp", "aks": "azure"}


@dataclass(frozen=True)
class Instance:
    provider: str
    instance_type: str
    region: str
    gpu: str | None  # GPU name from stackdef's GPU catalog; None for CPU-only
    gpu_count: Fraction
    vcpu: int
    ram_gib: float
    usd_per_hour: float
    source: str

    @property
    def whole_gpus(self) -> int:
        return int(self.gpu_count) if self.gpu_count.denominator == 1 else 0


class PriceFileError(ValueError):
    pass


def _instance(r: dict[str, str], where: str) -> Instance:
    try:
        gpu_text = (r.get("gpu_model") or "").strip()
        return Instance(
            provider=r["provider"].strip(),
            instance_type=r["instance_type"].strip(),
            region=r["region"].strip(),
            gpu=gpu_from_price_row(gpu_text) if gpu_text else None,
            gpu_count=Fraction(r.get("gpu_count") or "0"),
            vcpu=int(float(r["vcpu"])),
            ram_gib=float(r["ram_gib"]),
            usd_per_hour=float(r["usd_per_hour"]),
            source=f"{r.get('price_source_url', '')} {r.get('price_source_date', '')}".strip() or where,
        )
    except (KeyError, ValueError, ZeroDivisionError) as exc:
        raise PriceFileError(f"{where}: bad row {dict(r)!r}: {exc}") from None


def read_csv(path: Path) -> list[Instance]:
    with path.open(newline="", encoding="utf-8") as f:
        return [_instance(r, f"{path}:{i + 2}") for i, r in enumerate(csv.DictReader(f))]


@lru_cache(maxsize=1)
def builtin() -> tuple[Instance, ...]:
    return tuple(read_csv(_DATA / "gpu_prices.csv") + read_csv(_DATA / "cpu_prices.csv"))


@dataclass(frozen=True)
class PriceCatalog:
    instances: tuple[Instance, ...]

    @classmethod
    def default(cls, extra: tuple[Instance, ...] = ()) -> PriceCatalog:
        rows = {(i.provider, i.region, i.instance_type): i for i in builtin()}
        rows.update({(i.provider, i.region, i.instance_type): i for i in extra})
        return cls(tuple(sorted(rows.values(), key=lambda i: (i.provider, i.region, i.instance_type))))

    def for_region(self, provider: str, region: str) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if i.provider == provider and i.region == region)

    def gpu_instances(self, provider: str, region: str) -> tuple[Instance, ...]:
        return tuple(i for i in self.for_region(provider, region) if i.gpu and i.whole_gpus > 0)

    def cpu_instance(self, provider: str, region: str) -> Instance | None:
        cpu = [i for i in self.for_region(provider, region) if not i.gpu and i.gpu_count == 0]
        return min(cpu, key=lambda i: (i.usd_per_hour, i.instance_type)) if cpu else None

    def regions(self) -> list[tuple[str, str]]:
        return sorted({(i.provider, i.region) for i in self.instances})

"""Instance prices per cloud / region / instance type, with their sources.

Built from ``data/gpu_prices.csv`` (stackdef's cited price data: each
row cites its price and spec source and date) and ``data/cpu_prices.csv`` (the
CPU node type each cloud's Ray heads, CPU workers and system pods are costed
on). Users add or override rows with their own CSV (negotiated rates, other
regions): same columns, matched on (provider, region, instance_type).
Each row's ``gpu_model`` must be a GPU text of stackdef's own data or a GPU
type name (:data:`stackdef.catalog.gpus.PRICE_ROW_GPUS`); anything else is an
error naming the row, never a silently dropped instance. Fractional-GPU
instances (Azure NV*ads_A10_v5 partitions) are kept for reference, with the
reason they are excluded, but are never chosen by the planner.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from stackdef.catalog.gpus import GPU_NAMES, Excluded, gpu_from_price_row

#: CPU a node keeps for kubelet and system daemons (see :mod:`stackdef.cost`).
NODE_RESERVED_CPU = 1

_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Instance:
    provider: str
    instance_type: str
    region: str
    gpu: str | None  # GPU name from stackdef's GPU catalog; None for CPU-only or excluded
    gpu_count: Fraction
    vcpu: int
    ram_gib: float
    usd_per_hour: float
    source: str
    #: Why a GPU row is never planned on (e.g. a fractional GPU); None otherwise.
    excluded: str | None = None

    @property
    def whole_gpus(self) -> int:
        return int(self.gpu_count) if self.gpu_count.denominator == 1 else 0


class PriceFileError(ValueError):
    """A price CSV row that cannot be used; the message names the row and the column."""


#: Columns every price row needs, and the optional ones stackdef reads.
REQUIRED_COLUMNS = ("provider", "instance_type", "region", "vcpu", "ram_gib", "usd_per_hour")
OPTIONAL_COLUMNS = ("gpu_model", "gpu_count", "price_source_url", "price_source_date")
#: Upper bounds that no real instance reaches; beyond them a value is a typo.
_LIMITS = {"vcpu": 4096, "ram_gib": 65536, "usd_per_hour": 10000, "gpu_count": 64}
_EXPECTED = ", ".join(REQUIRED_COLUMNS) + " (optional: " + ", ".join(OPTIONAL_COLUMNS) + ")"


def _number(row: dict[str, str | None], column: str, where: str, *, integer: bool = False, default: str | None = None) -> Fraction:
    raw = (row.get(column) or "").strip() or default
    if raw is None:
        raise PriceFileError(f"{where}, column {column}: empty (every row needs {column})")
    try:
        value = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise PriceFileError(f"{where}, column {column}: {raw[:40]!r} is not a number") from None
    if value < 0 or value > _LIMITS[column]:
        raise PriceFileError(f"{where}, column {column}: {raw[:40]} is outside 0–{_LIMITS[column]}")
    if integer and value.denominator != 1:
        raise PriceFileError(f"{where}, column {column}: {raw[:40]} is not a whole number")
    return value


def _instance(r: dict[str, str | None], where: str) -> Instance:
    if None in r.values() or None in r:
        raise PriceFileError(f"{where}: the row has {'fewer' if None in r.values() else 'more'} fields than the header")
    text = {c: (r.get(c) or "").strip() for c in ("provider", "instance_type", "region", "gpu_model")}
    for column in ("provider", "instance_type", "region"):
        if not text[column]:
            raise PriceFileError(f"{where}, column {column}: empty (every row needs {column})")
    vcpu = _number(r, "vcpu", where, integer=True)
    ram = _number(r, "ram_gib", where)
    gpu_count = _number(r, "gpu_count", where, default="0")
    if vcpu <= NODE_RESERVED_CPU:
        raise PriceFileError(f"{where}, column vcpu: {vcpu} leaves no CPU for pods (a node keeps {NODE_RESERVED_CPU} for itself)")
    if ram <= 2:
        raise PriceFileError(f"{where}, column ram_gib: {float(ram):g} GiB leaves no memory for pods")
    gpu: str | None = None
    excluded: str | None = None
    if text["gpu_model"]:
        found = gpu_from_price_row(text["gpu_model"])
        if found is None:
            raise PriceFileError(
                f"{where}, column gpu_model: {text['gpu_model'][:60]!r} is not a GPU stackdef knows "
                f"(write one of {', '.join(GPU_NAMES)})"
            )
        if isinstance(found, Excluded):
            excluded = found.reason
        else:
            gpu = found
    elif gpu_count:
        raise PriceFileError(f"{where}, column gpu_model: empty but gpu_count is {gpu_count} (name the GPU, e.g. L4)")
    return Instance(
        provider=text["provider"],
        instance_type=text["instance_type"],
        region=text["region"],
        gpu=gpu,
        excluded=excluded,
        gpu_count=gpu_count,
        vcpu=int(vcpu),
        ram_gib=float(ram),
        usd_per_hour=float(_number(r, "usd_per_hour", where)),
        source=f"{(r.get('price_source_url') or '').strip()} {(r.get('price_source_date') or '').strip()}".strip() or where,
    )


def read_csv(path: Path, label: str | None = None) -> list[Instance]:
    """Instances of a price CSV. ``label`` names the file in messages (default: its path)."""
    label = label or str(path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise PriceFileError(f"{label}: missing column(s) {', '.join(missing)} (expected columns: {_EXPECTED})")
        reader.fieldnames = header
        return [_instance(r, f"{label}: row {i + 2}") for i, r in enumerate(reader)]


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

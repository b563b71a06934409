"""Monthly prices of the persistent volumes stackdef creates, per cloud, region and StorageClass.

Built from ``data/storage_prices.csv`` (each row cites its source and date; ``status`` says
whether the figure was read in a primary source or inferred). A volume is billed at its
requested size, at least the class's minimum (Filestore Basic HDD bills 100 GiB whatever a PVC
asks); Azure managed disks bill the smallest size tier that holds the request (rows
``managed-csi/E<n>``). EFS and Azure Files bill the bytes actually stored: the PVC's size is
then an upper bound, which is what a plan can know.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "storage_prices.csv"


@dataclass(frozen=True)
class StoragePrice:
    provider: str
    storage_class: str
    region: str
    usd_per_gib_month: float
    min_gib: float
    source: str
    status: str


@lru_cache(maxsize=1)
def catalog() -> tuple[StoragePrice, ...]:
    with _DATA.open(newline="", encoding="utf-8") as f:
        return tuple(
            StoragePrice(
                r["provider"], r["storage_class"], r["region"], float(r["usd_per_gib_month"]), float(r["min_gib"] or 0),
                f"{r['price_source_url']} {r['price_source_date']}".strip(), r["status"],
            )
            for r in csv.DictReader(f)
        )


def monthly_usd(provider: str, region: str, storage_class: str, size_gib: float) -> tuple[float, StoragePrice] | None:
    """(USD a month, the row it comes from) for a volume of ``size_gib``; None when unpriced."""
    rows = [r for r in catalog() if r.provider == provider and r.region == region]
    tiers = sorted((r for r in rows if r.storage_class.startswith(storage_class + "/")), key=lambda r: r.min_gib)
    if tiers:
        tier = next((r for r in tiers if r.min_gib >= size_gib), None)
        return (round(tier.usd_per_gib_month * tier.min_gib, 4), tier) if tier else None
    flat = next((r for r in rows if r.storage_class == storage_class), None)
    if flat is None:
        return None
    return round(flat.usd_per_gib_month * max(size_gib, flat.min_gib), 4), flat

"""Kubernetes quantity arithmetic (just what sizing needs)."""

from __future__ import annotations

import math
import re

_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse_quantity(q: str | int | float) -> float:
    """Value of a quantity in base units (bytes for memory, cores for CPU)."""
    if isinstance(q, (int, float)):
        return float(q)
    m = _RE.match(q)
    if not m:
        raise ValueError(f"{q!r} is not a Kubernetes quantity")
    return float(m.group(1)) * _SUFFIX[m.group(2) or ""]


def parse_bytes(q: str) -> int:
    return int(parse_quantity(q))


def format_cpu(cores: float) -> str:
    """Canonical CPU quantity: whole cores as '2', else millicores '500m'."""
    millis = int(math.ceil(cores * 1000 - 1e-9))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_mib(nbytes: int) -> str:
    """Canonical memory quantity in Gi when whole, else Mi (rounded up)."""
    mib = -(-nbytes // 2**20)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"

"""Every Kubernetes name stackdef emits is derived here, in one place.

Names are stable (same input, same name), lower-case, valid for the kind's
naming rule and no longer than its limit. When a name must be shortened, the
tail is replaced by ``-`` and 8 hex digits of the SHA-256 of the full name, so
two long names that share a prefix still differ.
"""

from __future__ import annotations

import hashlib
import re

#: kind -> (maximum length, must start with a letter (DNS-1035)).
#: RayService: KubeRay v1.7.0 utils/validation.go — DNS-1035 label, ≤ 47
#: (53 − 6: the operator appends '-' + 5 characters for the RayCluster).
#: Service: DNS-1035 label ≤ 63. Other namespaced objects here: DNS-1123
#: label ≤ 63 (a subdomain may be longer, but these names also become label
#: values, which are capped at 63).
LIMITS: dict[str, tuple[int, bool]] = {
    "RayService": (47, True),
    "Service": (63, True),
    "Namespace": (63, False),
}
_DEFAULT = (63, False)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    return re.sub(r"-{2,}", "-", s).strip("-")


def k8s_name(kind: str, *parts: str) -> str:
    """The name of a ``kind`` object built from ``parts`` joined with '-'."""
    limit, letter_first = LIMITS.get(kind, _DEFAULT)
    full = "-".join(p for p in parts if p)
    name = _slug(full) or "x"
    if letter_first and not name[0].isalpha():
        name = "x-" + name
    if len(name) > limit:
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        name = name[: limit - 9].rstrip("-") + "-" + digest
    return name


def label_value(text: str) -> str:
    """A valid label value (≤ 63, alphanumeric at both ends)."""
    return k8s_name("label", text)

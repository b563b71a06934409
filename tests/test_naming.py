"""Names: valid for their kind, within the limit, stable, distinct when shortened."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stackdef.naming import k8s_name

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_short_names_are_kept() -> None:
    assert k8s_name("RayService", "chat") == "chat"
    assert k8s_name("PersistentVolumeClaim", "chat", "model-cache") == "chat-model-cache"


def test_long_rayservice_names_are_shortened_with_a_hash() -> None:
    long = "a" * 60
    name = k8s_name("RayService", long)
    assert len(name) == 47
    assert re.fullmatch(r"a{38}-[0-9a-f]{8}", name)
    other = k8s_name("RayService", "a" * 59 + "b")
    assert other != name and len(other) == 47


def test_dns1035_kinds_start_with_a_letter() -> None:
    assert k8s_name("Service", "9lives") == "x-9lives"
    assert k8s_name("ConfigMap", "9lives") == "9lives"


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["RayService", "Service", "Deployment", "ConfigMap", "Namespace"]),
       parts=st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=3))
def test_every_name_is_valid_and_stable(kind: str, parts: list[str]) -> None:
    name = k8s_name(kind, *parts)
    limit = 47 if kind == "RayService" else 63
    assert len(name) <= limit
    assert (DNS1035 if kind in ("RayService", "Service") else DNS1123).fullmatch(name)
    assert k8s_name(kind, *parts) == name

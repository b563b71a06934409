"""Deterministic YAML output: key order as built, multi-line strings as blocks."""

from __future__ import annotations

from typing import Any

import yaml

#: libyaml's emitter when PyYAML has it (an order of magnitude faster; same output for what stackdef writes).
_BASE = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BASE):  # type: ignore[valid-type,misc]
    # Manifests are read by people and by kubectl: repeat shared values, never emit &anchors / *aliases.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)


def dump_all(docs: list[Any]) -> str:
    return yaml.dump_all(
        docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True, explicit_start=True
    )


class _PlainDumper(_BASE):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_plain(doc: Any, width: int = 1000) -> str:
    """Block YAML with PyYAML's default scalar styles and no aliases (Serve configs embedded as strings)."""
    return yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=width)

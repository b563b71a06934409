"""The offline pipeline in one call: load → resolve → compile → plan.

Used by the CLI, the tests and the Pulumi edge alike, so every path runs the
very same stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackdef.compile import CompiledStack, compile_stack
from stackdef.loader import LoadedStack, load
from stackdef.plan import build_plan
from stackdef.resolve import resolve


@dataclass(frozen=True)
class Built:
    loaded: LoadedStack
    compiled: CompiledStack
    plan: dict[str, Any]


def build(spec: str | LoadedStack) -> Built:
    loaded = load(spec) if isinstance(spec, str) else spec
    compiled = compile_stack(resolve(loaded.stack, loaded.code))
    return Built(loaded, compiled, build_plan(compiled, loaded.warnings))

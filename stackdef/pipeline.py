"""The offline pipeline in one call: load → resolve → compile → plan.

Used by the CLI, the tests and the Pulumi edge alike, so every path runs the
very same stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackdef.catalog.prices import PriceCatalog
from stackdef.compile import CompiledStack, compile_stack
from stackdef.errors import Issue, SpecError
from stackdef.loader import LoadedStack, load, read_prices
from stackdef.plan import Plan, build_plan
from stackdef.resolve import resolve


@dataclass(frozen=True)
class Built:
    loaded: LoadedStack
    compiled: CompiledStack
    plan: Plan

    @property
    def warnings(self) -> list[Issue]:
        return [Issue(w.path, w.problem, w.fix) for w in self.plan.warnings]


def build(spec: str | LoadedStack, prices_file: str | Path | None = None) -> Built:
    """Every offline stage. ``prices_file`` (CLI ``--prices``) overrides ``pricing.file`` rows."""
    loaded = load(spec) if isinstance(spec, str) else spec
    extra = loaded.prices
    if prices_file is not None:
        extra = extra + read_prices(Path(prices_file), str(prices_file))
    try:
        rst = resolve(loaded.stack, loaded.code, PriceCatalog.default(extra))
    except SpecError as exc:
        raise SpecError(loaded.source, exc.issues) from None
    compiled = compile_stack(rst)
    return Built(loaded, compiled, build_plan(compiled, loaded.warnings + rst.warnings))

"""``stackdef data validate`` and ``stackdef features``: the data layer's commands.

Only Typer is imported here; everything else is imported when a command runs.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

data_app = typer.Typer(help="The data layer: validate a dataset as the cluster's validation job does.", no_args_is_help=True, rich_markup_mode=None)


class Format(StrEnum):
    table = "table"
    json = "json"


def _section(loaded: Any) -> Any:
    from stackdef.errors import UsageError

    section = getattr(loaded.stack, "data", None)
    if section is None:
        raise UsageError(f"{loaded.source}: the stack declares no data layer (add a `data:` section)")
    return section


@data_app.command("validate")
def validate(
    spec: str = typer.Argument(..., help="The stack spec."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name (as in data.datasets)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where file datasets are (default: the spec's folder)."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
) -> None:
    """Run a dataset's checks here, with the runner the cluster's CronJob runs; exit 1 if any fails."""
    from stackdef.cli import _console, _run

    def body() -> int:
        from stackdef.errors import UsageError
        from stackdef.layers.data import checks
        from stackdef.pipeline import load

        loaded = load(spec)
        section = _section(loaded)
        by_name = {d.name: d for d in section.datasets}
        if dataset not in by_name:
            raise UsageError(f"{loaded.source}: no dataset {dataset!r} (datasets: {', '.join(sorted(by_name)) or 'none'})")
        ds = by_name[dataset]
        if ds.checks is None or ds.checks.empty:
            raise UsageError(f"{loaded.source}: dataset {dataset!r} has no checks (add data.datasets[].checks)")
        try:
            from stackdef.runtime import validate as runner
        except ImportError as exc:
            raise UsageError(f"validating data needs the runtime extras ({exc.name} is missing): pip install 'stackdef[runtime]'") from None
        root = data_dir or Path(loaded.source).resolve().parent
        job = checks.job_document(loaded.stack.name, ds, None)
        # The failed checks' lines go to stderr as in the cluster; the table or JSON to stdout.
        result = runner.run(job, root, out=sys.stderr, err=sys.stderr, push=False)
        if result.error is not None and not result.checks:
            return result.exit_code  # the runner said why (bad source, unreadable file) in one line
        if format is Format.json:
            doc = {
                "stack": result.stack,
                "dataset": result.dataset,
                "rows": result.rows,
                "passed": result.passed,
                "checks": [{"name": c.name, "passed": c.passed, "message": c.message, "failing_rows": c.rows} for c in result.checks],
            }
            print(json.dumps(doc, indent=2, allow_nan=False))
        else:
            _print_checks(result, _console())
        return result.exit_code

    _run(body)


def _print_checks(result: Any, console: Any) -> None:
    from rich.table import Table

    t = Table(title=f"{result.dataset}: {result.rows or 0:,} rows", title_justify="left")
    for col in ("check", "result", "detail"):
        t.add_column(col, no_wrap=col == "result")
    for c in result.checks:
        t.add_row(c.name, "pass" if c.passed else "FAIL", c.message or "")
    console.print(t)


def features(
    spec: str = typer.Argument(..., help="The stack spec."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
) -> None:
    """Every feature view: its stage, and what it lacks to graduate (experimental → validated → production)."""
    from stackdef.cli import _console, _run

    def body() -> int:
        from stackdef.layers.data import feature_row
        from stackdef.pipeline import load

        loaded = load(spec)
        section = _section(loaded)
        fs = section.feature_store
        rows = [feature_row(v, section) for v in fs.feature_views] if fs else []
        readers: dict[str, list[str]] = {}
        for s in fs.feature_services if fs else []:
            for v in s.feature_views:
                readers.setdefault(v, []).append(s.name + (" (production)" if s.production else ""))
        for r in rows:
            r["feature_services"] = readers.get(r["name"], [])
        if format is Format.json:
            print(json.dumps({"stack": loaded.stack.name, "feature_views": rows}, indent=2, allow_nan=False))
            return 0
        from rich.table import Table

        t = Table(title=f"Features of {loaded.stack.name}", title_justify="left")
        for col in ("feature view", "stage", "features", "source", "read by", "to graduate"):
            t.add_column(col, no_wrap=col in ("feature view", "stage"))
        for r in rows:
            nxt = f"{r['next_stage']}: needs {', '.join(r['lacks_for_next'])}" if r["lacks_for_next"] else (f"{r['next_stage']}: ready" if r["next_stage"] else "—")
            t.add_row(r["name"], r["stage"], ", ".join(r["features"]), r["source"], ", ".join(r["feature_services"]) or "—", nxt)
        _console().print(t)
        return 0

    _run(body)

"""The ``stackdef`` command line (Typer + rich, imports kept lazy for speed).

Exit codes: 0 ok; 1 invalid spec (one ``SOURCE: field.path: problem (fix)``
line per problem on stderr); 2 usage error; 3 internal error (a bug: reported
in one line, never a traceback). Nothing is written when a command fails.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

# stackdef's models need no pydantic plugins; looking for them (entry points) costs every run
# ~10 ms, at the first model this module's imports build (the layers' commands), so set it here.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer  # noqa: E402

#: Columns tables may use when stdout is no terminal and COLUMNS is unset (rich assumes 80).
PIPE_WIDTH = 200

app = typer.Typer(
    name="stackdef",
    help="Declarative infrastructure-as-code for the ML serving layer. "
    "SPEC is path/spec.yaml|.json, path/file.py[:attr], package.module:attr or blueprints/<name>.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich markup would eat literal brackets such as `stackdef[ray]`.
    rich_markup_mode=None,
)


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class ValidateFormat(StrEnum):
    text = "text"
    json = "json"


_SPEC = typer.Argument(..., help="The stack spec.")
_FORMAT = typer.Option(PlanFormat.table, "--format", "-f", help="table, json or markdown.")
_PRICES = typer.Option(
    None, "--prices", help="CSV of extra or overriding instance prices (columns as the built-in catalog)."
)


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


#: Exit status of a process whose reader went away (128 + SIGPIPE), as Unix tools report it.
EXIT_BROKEN_PIPE = 141


def _quiet_broken_pipe() -> None:
    """The reader closed the pipe (`stackdef plan | head -1`): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so the interpreter's final flush cannot
    raise again while shutting down.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _run(fn: Callable[[], int | None], *, offline: bool = True) -> None:
    """Run a command body, mapping stackdef errors to exit codes without tracebacks."""
    from stackdef.errors import SpecError, UsageError

    # An offline command is a short burst of allocation with next to no cyclic garbage: the cyclic
    # collector's full passes cost a third of a 3,000-service plan and free nothing (same peak RSS).
    pause_gc = offline and gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        code = fn() or 0
        sys.stdout.flush()  # surface a closed pipe here, not at interpreter exit
    except BrokenPipeError:
        _quiet_broken_pipe()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except SpecError as exc:
        for line in exc.lines():
            _err(line)
        raise typer.Exit(1) from None
    except UsageError as exc:
        _err(f"stackdef: {exc}")
        raise typer.Exit(2) from None
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _err("stackdef: interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug in stackdef: one line, never a traceback
        _err(f"stackdef: internal error: {type(exc).__name__}: {exc} (please report this with the spec that caused it)")
        raise typer.Exit(3) from None
    finally:
        if pause_gc:
            gc.enable()
    raise typer.Exit(code)


def _console() -> Any:
    """A rich Console at the terminal's width that reports a closed pipe like print() does.

    Piped or in a CI log (no terminal, no COLUMNS), tables get room for their natural width
    instead of rich's 80 columns, which would fold every cell of a wide plan.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1 here
            raise BrokenPipeError

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    # soft_wrap: plain lines (notes, warnings) stay one line each for grep; tables keep their layout.
    return _Console(soft_wrap=True, width=width)


def _warn_lines(source: str, warnings: Any) -> None:
    for w in warnings:
        _err("warning: " + w.format(source))


@app.command()
def validate(
    spec: str = _SPEC,
    format: ValidateFormat = typer.Option(ValidateFormat.text, "--format", "-f", help="text or json."),
    prices: Path | None = _PRICES,
    deep: bool = typer.Option(False, "--deep", help="Also run Ray's own validators on every compiled Serve config (needs stackdef[ray])."),
) -> None:
    """Check a spec completely (types, references, GPU fit, budgets, names) without deploying anything."""

    def body() -> int:
        from stackdef.errors import Issue, SpecError
        from stackdef.pipeline import build

        def checked() -> Any:
            built = build(spec, prices)
            if deep:
                from stackdef import deep as deep_mod
                from stackdef.errors import UsageError

                if not deep_mod.ray_available():
                    raise UsageError("--deep needs Ray's validators: pip install 'stackdef[ray]'")
                index = {rs.names.get("rayservice"): rs.index for rs in built.compiled.resolved.services}
                problems = deep_mod.deep_issues(built.compiled.objects(), index)
                if problems:
                    raise SpecError(built.loaded.source, [Issue(path, text) for path, text in problems])
            return built

        if format is ValidateFormat.json:
            try:
                built = checked()
            except SpecError as exc:
                doc = {"valid": False, "source": exc.source, "errors": [i.to_dict() for i in exc.issues], "warnings": []}
                print(json.dumps(doc, indent=2, allow_nan=False))
                return 1
            doc = {"valid": True, "source": built.loaded.source, "errors": [], "warnings": built.plan.to_json()["warnings"]}
            print(json.dumps(doc, indent=2, allow_nan=False))
            return 0
        built = checked()
        loaded = built.loaded
        _warn_lines(loaded.source, built.warnings)
        n = len(loaded.stack.services)
        extra = ""
        if deep:
            from stackdef.versions import RAY_VERSION

            extra = f"; Ray {RAY_VERSION} validators passed"
        print(f"{loaded.source}: valid (stack {loaded.stack.name!r}, {n} service{'s' if n != 1 else ''}, target {loaded.stack.target.type}{extra})")
        return 0

    _run(body)


@app.command()
def plan(
    spec: str = _SPEC,
    format: PlanFormat = _FORMAT,
    prices: Path | None = _PRICES,
) -> None:
    """Show what the stack will create: services, replicas, GPU sizing, cost, every resource. Offline."""

    def body() -> int:
        from stackdef.pipeline import build

        built = build(spec, prices)
        if format is PlanFormat.json:
            print(json.dumps(built.plan.to_json(), indent=2, allow_nan=False))
        elif format is PlanFormat.markdown:
            from stackdef.plan import plan_markdown

            sys.stdout.write(plan_markdown(built.plan.to_view()))
        else:
            from stackdef.plan import print_plan_table

            print_plan_table(built.plan.to_view(), _console())
        return 0

    _run(body)


@app.command()
def render(
    spec: str = _SPEC,
    out: Path = typer.Option(
        ..., "--out", "-o",
        help="Output folder: created, or re-rendered in place (files stackdef did not write are kept).",
    ),
    prices: Path | None = _PRICES,
    force: bool = typer.Option(
        False, "--force",
        help="Also write into a folder holding another stack's render or files stackdef did not write "
        "(those files are still kept, unless a rendered file has the same path).",
    ),
) -> None:
    """Write every manifest (one YAML file per component, kubectl-applicable) and operator values files."""

    def body() -> int:
        from stackdef.pipeline import build
        from stackdef.render import render_files, write_tree

        built = build(spec, prices)
        files = render_files(built.compiled, built.plan)
        kept = write_tree(files, out, stack=built.compiled.resolved.stack.name, force=force)

        _warn_lines(built.loaded.source, built.warnings)
        also = f"; kept {len(kept)} file(s) stackdef did not write" if kept else ""
        print(f"wrote {len(files)} files to {out}/ (apply order in {out}/README.md){also}")
        return 0

    _run(body)


@app.command()
def cost(
    spec: str = _SPEC,
    format: PlanFormat = _FORMAT,
    prices: Path | None = _PRICES,
) -> None:
    """Monthly cost: per service and for the stack, baseline (min replicas) and ceiling (max), with GPU sizing."""

    def body() -> int:
        from stackdef.pipeline import build

        built = build(spec, prices)
        plan = built.plan.to_json()
        doc = {k: plan[k] for k in ("stack", "target", "cost", "sizing", "cold_start", "warnings")}
        if format is PlanFormat.json:
            print(json.dumps(doc, indent=2, allow_nan=False))
        elif format is PlanFormat.markdown:
            from stackdef.plan import cost_markdown

            sys.stdout.write(cost_markdown(plan))
        else:
            from stackdef.plan import print_cold_start_table, print_cost_table, print_sizing_table

            console = _console()
            print_sizing_table(plan, console)
            print_cold_start_table(plan, console)
            print_cost_table(plan, console)
        return 0

    _run(body)


@app.command()
def schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of the stack spec (for editors and CI)."""

    def body() -> int:
        from stackdef.spec.stack import stack_model

        text = json.dumps(stack_model().model_json_schema(by_alias=True), indent=2, sort_keys=True, allow_nan=False) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            try:
                tmp = out.with_name(out.name + ".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(out)
            except OSError as exc:
                from stackdef.errors import UsageError

                raise UsageError(f"{out}: cannot write: {exc.strerror}") from None
        return 0

    _run(body)


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


@app.command()
def diff(
    base: str = typer.Argument(..., help="The base SPEC (or, with --base-ref, the SPEC to compare with its committed version)."),
    head: str | None = typer.Argument(None, help="The head SPEC (omit with --base-ref)."),
    base_ref: str | None = typer.Option(
        None, "--base-ref", help="Compare SPEC with itself at this git ref (read into a temporary folder; the working tree is not touched)."
    ),
    base_path: str | None = typer.Option(
        None, "--base-path", help="With --base-ref: where the spec was at the ref, when the pull request moved it."
    ),
    format: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text, json or markdown (a pull-request comment)."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when something changes, 0 when nothing does (2: error)."),
    prices: Path | None = _PRICES,
    pulumi_events: Path | None = typer.Option(
        None, "--pulumi-events", help="Add Pulumi's own preview: the output of `pulumi preview --json` (a digest or an engine event stream)."
    ),
    graph: bool = typer.Option(True, "--graph/--no-graph", help="Embed the Mermaid stack graph in the Markdown."),
) -> None:
    """What changes between two versions of a stack: resources (update or replace), cost, budget, GPU fit. Offline.

    Exit codes: 0 (with --exit-code: no change), 1 changes with --exit-code, 2 an error (the head
    spec does not build, a bad ref or path, a usage error). With -f markdown or -f json an error is
    also printed on stdout (a Markdown block, or {"error": ...}), so a workflow can post it. A base
    that does not build is shown as a new stack, with its problems.
    """

    def body() -> int:
        from stackdef.errors import SpecError, UsageError

        source, spec_error = head or base, False
        try:
            return _diff(base, head, base_ref, base_path, format, exit_code, prices, pulumi_events, graph)
        except SpecError as exc:
            lines, source, spec_error = exc.lines(), exc.source, True
        except UsageError as exc:
            lines = [f"stackdef: {exc}"]
        except Exception as exc:  # a bug: one line, and still the diff's error code
            lines = [f"stackdef: internal error: {type(exc).__name__}: {exc} (please report this with the specs that caused it)"]
        for line in lines:
            _err(line)
        if format is DiffFormat.markdown:
            from stackdef.diff.views import error_markdown

            sys.stdout.write(error_markdown(source, lines, spec_error))
        elif format is DiffFormat.json:
            print(json.dumps({"error": True, "source": source, "lines": lines}, indent=2, ensure_ascii=False, allow_nan=False))
        return 2

    _run(body)


def _diff(
    base: str, head: str | None, base_ref: str | None, base_path: str | None, format: DiffFormat,
    exit_code: bool, prices: Path | None, pulumi_events: Path | None, graph: bool,
) -> int:
    from stackdef.diff import sources
    from stackdef.errors import UsageError

    if (head is None) == (base_ref is None):
        raise UsageError("give BASE and HEAD, or one SPEC with --base-ref REF")
    if base_path is not None and base_ref is None:
        raise UsageError("--base-path goes with --base-ref")
    if base_ref is not None:
        old = sources.snapshot_at_ref(base, base_ref, prices, base_path)
        new = sources.head_snapshot(base, prices, with_base_ref=True)
    else:
        assert head is not None
        old = sources.base_snapshot(base, prices)
        new = sources.build_snapshot(head, prices)
    events, events_error = None, None
    if pulumi_events is not None:
        # Pulumi's part is an extra: when it cannot be read, stackdef's own diff still stands.
        from stackdef.diff.pulumi_events import read_preview

        try:
            events = read_preview(pulumi_events.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            events_error = f"{pulumi_events}: {getattr(exc, 'strerror', None) or exc}"
            _err(f"warning: Pulumi's preview left out: {events_error}")
    from stackdef.diff.core import diff_snapshots

    doc = diff_snapshots(old, new)
    if format is DiffFormat.json:
        if events is not None:
            from stackdef.diff.pulumi_events import pulumi_json

            doc["pulumi"] = pulumi_json(events)
        elif events_error is not None:
            doc["pulumi"] = {"error": events_error}
        print(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
    elif format is DiffFormat.markdown:
        from stackdef.diff import views
        from stackdef.diff.graph import mermaid

        picture = None
        if graph and (new["exists"] or old["exists"]):
            picture = mermaid(new["graph"], old["graph"], {r["component"] for r in doc["resources"]})
        pulumi_md = None
        if events is not None:
            from stackdef.diff.pulumi_events import pulumi_markdown

            pulumi_md = pulumi_markdown(events)
        elif events_error is not None:
            pulumi_md = views.pulumi_error_markdown(events_error)
        sys.stdout.write(views.markdown(doc, picture, pulumi_md))
    else:
        from stackdef.diff import views

        sys.stdout.write(views.text(doc))
        if events is not None:
            from stackdef.diff.pulumi_events import pulumi_json

            sys.stdout.write(views.pulumi_text(pulumi_json(events)))
    return 1 if exit_code and doc["changed"] else 0


@app.command()
def graph(spec: str = _SPEC, prices: Path | None = _PRICES) -> None:
    """Print the stack as a Mermaid flowchart: services, datasets and checks, the feature store, and their links."""

    def body() -> int:
        from stackdef.diff.graph import mermaid
        from stackdef.diff.sources import build_snapshot

        sys.stdout.write(mermaid(build_snapshot(spec, prices)["graph"]))
        return 0

    _run(body)


def _deploy(action: str, spec: str, stack: str, backend: str | None) -> None:
    def body() -> int:
        from stackdef.deploy.automation import run

        return run(action, spec, stack, backend=backend)  # type: ignore[arg-type]

    _run(body, offline=False)  # the Pulumi engine runs for minutes: keep the collector


_STACK = typer.Option(..., "--stack", "-s", help="Pulumi stack name, e.g. dev.")
_BACKEND = typer.Option(None, "--backend", help="Pulumi state backend URL (default: $PULUMI_BACKEND_URL or a local file backend).")


@app.command()
def up(spec: str = _SPEC, stack: str = _STACK, backend: str | None = _BACKEND) -> None:
    """Deploy the stack with Pulumi (creates the kind cluster for the kind target). Needs the pulumi CLI."""
    _deploy("up", spec, stack, backend)


@app.command()
def preview(spec: str = _SPEC, stack: str = _STACK, backend: str | None = _BACKEND) -> None:
    """Show what `up` would change, through Pulumi. Needs the pulumi CLI."""
    _deploy("preview", spec, stack, backend)


@app.command()
def destroy(spec: str = _SPEC, stack: str = _STACK, backend: str | None = _BACKEND) -> None:
    """Delete everything the stack created except protected volumes (model caches), which are kept and
    listed with the command that deletes them. Needs the pulumi CLI."""
    _deploy("destroy", spec, stack, backend)


def _add_layer_commands() -> None:
    """Commands layers add (stackdef.layers.commands), without the CLI naming any layer."""
    import importlib

    from stackdef.layers.commands import COMMANDS

    for name, target in COMMANDS:
        module, attr = target.split(":")
        obj = getattr(importlib.import_module(module), attr)
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)


_add_layer_commands()


def main() -> None:
    import signal

    # A cancelled CI job sends SIGTERM: exit through Python, so `finally` blocks remove temporary
    # folders (render's, diff's base checkout) and subprocess.run stops the child it waits for.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        app()
    except SystemExit:
        raise
    except BrokenPipeError:
        _quiet_broken_pipe()
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as exc:  # click/typer internals: still never a traceback
        _err(f"stackdef: internal error: {type(exc).__name__}: {exc}")
        sys.exit(3)


if __name__ == "__main__":
    main()

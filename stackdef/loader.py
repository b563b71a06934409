"""Load a stack from any SPEC form and validate it completely.

SPEC forms (the same for every command):

- ``path/spec.yaml``, ``path/spec.yml``, ``path/spec.json`` — a data file;
- ``path/file.py`` or ``path/file.py:attr`` — a Python file exposing a
  :class:`~stackdef.spec.Stack` (or a dict) as ``attr`` (default ``stack``);
- ``package.module:attr`` — the same from an importable module;
- ``blueprints/<name>`` — a folder holding ``stack.py`` or ``stack.yaml``.

This is the only stage that does I/O before compile: it reads the spec and the
local application code a model service ships (``code.source: local``), so that
resolve and compile stay pure.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stackdef import registry
from stackdef.errors import Issue, SpecError, UsageError, split_fix
from stackdef.locations import clean_loc, field_names, format_loc
from stackdef.spec.rules import check_stack, stack_warnings
from stackdef.spec.stack import StackBase, stack_model

#: Largest local application directory shipped as a ConfigMap (the API server
#: caps an object at 1 MiB; stay well below).
MAX_LOCAL_CODE_BYTES = 512 * 1024
MAX_LOCAL_CODE_FILES = 500
_CODE_SUFFIXES = {".py", ".txt", ".json", ".yaml", ".yml", ".toml", ".cfg", ".csv"}


@dataclass(frozen=True)
class LoadedStack:
    """A validated stack plus what was read from disk for it."""

    stack: StackBase
    source: str
    warnings: tuple[Issue, ...] = ()
    #: service name -> ((relative path, text), ...) for ``code.source: local``.
    code: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    #: Instance prices from ``pricing.file`` (added to / overriding the catalog).
    prices: tuple[Any, ...] = ()


# --------------------------------------------------------------------------- #
# pydantic errors -> Issues
# --------------------------------------------------------------------------- #


@functools.lru_cache(maxsize=4)
def _field_names(model: type) -> list[str]:
    return sorted(field_names(model))


def issues_from_validation_error(err: ValidationError, model: type | None = None) -> list[Issue]:
    """One Issue per pydantic error, at the user's field path (``model``: what the data was validated as)."""
    model = model or stack_model()
    issues = []
    for e in err.errors(include_url=False):
        path = format_loc(clean_loc(model, tuple(e["loc"])))
        kind = e["type"]
        msg = e["msg"]
        if kind == "value_error":
            problem, fix = split_fix(msg.removeprefix("Value error, "))
        elif kind == "extra_forbidden":
            name = str(e["loc"][-1])
            close = difflib.get_close_matches(name, _field_names(model), n=1)
            problem = f"unknown field {name!r}"
            fix = f"did you mean {close[0]!r}?" if close else "remove it; `stackdef schema` lists the fields"
        elif kind == "missing":
            problem, fix = "required field is missing", "add it"
        else:
            got = e.get("input")
            shown = repr(got) if isinstance(got, (str, int, float, bool)) and len(repr(got)) <= 60 else None
            problem = msg[0].lower() + msg[1:] if msg else kind
            if shown is not None:
                problem = f"{problem}, got {shown}"
            fix = "see `stackdef schema` for the allowed values"
        issues.append(Issue(path, problem, fix))
    return issues


# --------------------------------------------------------------------------- #
# Reading SPEC forms
# --------------------------------------------------------------------------- #


def _read_data_file(path: Path, source: str) -> Any:
    from stackdef.readers import DataError, load_json, load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(source, [Issue("", "file is not UTF-8 text", "save it as UTF-8")]) from None
    try:
        return load_json(text) if path.suffix == ".json" else load_yaml(text)
    except DataError as exc:
        where = f"{source}:{exc.line}:{exc.column}" if exc.line is not None else source
        raise SpecError(where, [Issue("", exc.problem, exc.fix)]) from None


def _import_file(path: Path, source: str) -> Any:
    name = "stackdef_spec_" + re.sub(r"\W", "_", str(path.resolve()))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{source}: cannot import this file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ValidationError:
        raise
    except SpecError:
        raise
    except Exception as exc:  # user code: report, never a traceback
        del sys.modules[name]
        line = _user_line(exc, path)
        raise SpecError(
            f"{source}{line}", [Issue("", f"importing the file failed: {type(exc).__name__}: {exc}", "fix the Python error")]
        ) from None
    return module


def _user_line(exc: BaseException, path: Path) -> str:
    tb = exc.__traceback__
    line = ""
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.lineno:
        line = f":{exc.lineno}"
    return line


def _import_module(modname: str, source: str) -> Any:
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name and modname.startswith(exc.name):
            raise UsageError(
                f"{source}: no module named {exc.name!r} (use path/file.py[:attr], path/spec.yaml, "
                "package.module:attr or blueprints/<name>)"
            ) from None
        raise SpecError(source, [Issue("", f"importing the module failed: {exc}", "fix the import")]) from None
    except ValidationError:
        raise
    except Exception as exc:
        raise SpecError(
            source, [Issue("", f"importing the module failed: {type(exc).__name__}: {exc}", "fix the Python error")]
        ) from None


def split_file_attr(spec: str) -> tuple[str, str]:
    """``path/file.py:attr`` → (``path/file.py``, ``attr``); any other SPEC → (spec, "")."""
    if re.match(r"^[^:]+\.py:\w+$", spec):
        path_part, _, attr = spec.partition(":")
        return path_part, attr
    return spec, ""


def _raw_spec(spec: str) -> tuple[Any, str, Path]:
    """(object found, source label, base directory) for a SPEC string."""
    path_part, attr = split_file_attr(spec)
    p = Path(path_part)
    if p.is_dir():
        for candidate in ("stack.py", "stack.yaml", "stack.yml", "stack.json"):
            if (p / candidate).is_file():
                return _raw_spec(str(p / candidate))
        raise UsageError(f"{spec}: folder has no stack.py or stack.yaml (a blueprint folder needs one)")
    if p.suffix in (".yaml", ".yml", ".json"):
        if not p.is_file():
            raise UsageError(f"{spec}: no such file")
        return _read_data_file(p, spec), spec, p.parent
    if p.suffix == ".py":
        if not p.is_file():
            raise UsageError(f"{spec}: no such file")
        module = _import_file(p, path_part)
        return _attr(module, attr or "stack", spec), spec, p.parent
    m = re.fullmatch(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)", spec)
    if m:
        module = _import_module(m.group(1), spec)
        base = Path(getattr(module, "__file__", ".") or ".").parent
        return _attr(module, m.group(2), spec), spec, base
    raise UsageError(
        f"{spec}: not a spec file, Python file, module:attr or blueprint folder "
        "(use path/spec.yaml, path/file.py[:attr], package.module:attr or blueprints/<name>)"
    )


def _attr(module: Any, attr: str, source: str) -> Any:
    if not hasattr(module, attr):
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise UsageError(f"{source}: has no attribute {attr!r} (expose the stack as `{attr}`; found: {', '.join(public[:8])})")
    return getattr(module, attr)


def _code_files(root: Path) -> tuple[list[tuple[str, str]], list[str], str | None]:
    """(files, problems, over-limit reason) of a code folder, walked without following links.

    The walk stops as soon as the folder holds more than MAX_LOCAL_CODE_FILES
    source files or MAX_LOCAL_CODE_BYTES of them, so pointing it at a huge tree
    costs nothing.
    """
    files: list[tuple[str, str]] = []
    problems: list[str] = []
    total = 0
    todo = [root]
    while todo:
        folder = todo.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(f"{folder.relative_to(root).as_posix() or '.'} cannot be listed: {exc.strerror}")
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__" or entry.is_symlink():
                continue
            rel = Path(entry.path).relative_to(root)
            if entry.is_dir(follow_symlinks=False):
                todo.append(Path(entry.path))
                continue
            if not entry.is_file(follow_symlinks=False) or rel.suffix not in _CODE_SUFFIXES:
                continue
            if len(files) >= MAX_LOCAL_CODE_FILES:
                return files, problems, f"more than {MAX_LOCAL_CODE_FILES} source files"
            try:
                size = entry.stat(follow_symlinks=False).st_size
                if total + size > MAX_LOCAL_CODE_BYTES:
                    return files, problems, f"more than {MAX_LOCAL_CODE_BYTES} bytes of code"
                text = Path(entry.path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                problems.append(f"{rel.as_posix()} is not readable UTF-8 text")
                continue
            total += len(text.encode())
            files.append((rel.as_posix(), text))
    return sorted(files, key=lambda f: Path(f[0]).parts), problems, None


def _read_local_code(stack: StackBase, base: Path, source: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """The local code folders service kinds ship (``code_dirs``), read as text files."""
    code: dict[str, tuple[tuple[str, str], ...]] = {}
    issues = []
    try:
        tree = base.resolve()
    except OSError:
        tree = base
    for i, svc in enumerate(stack.services):  # type: ignore[attr-defined]
        for rel, folder in registry.KINDS.get(svc.type).code_dirs(svc):
            path = f"services[{i}].{rel}"
            try:
                root = (base / folder).resolve()
                inside = root.is_relative_to(tree)
                is_dir = inside and root.is_dir()
            except (OSError, ValueError) as exc:
                issues.append(Issue(path, f"{folder!r} cannot be used as a folder: {getattr(exc, 'strerror', None) or exc}", "point it at the app folder"))
                continue
            if not inside:
                issues.append(
                    Issue(path, f"{folder!r} is outside the spec's folder {str(tree)!r}", "keep the app code in a folder beside or below the spec")
                )
                continue
            if not is_dir:
                issues.append(Issue(path, f"{folder!r} is not a directory (relative to {base})", "point it at the app folder"))
                continue
            files, problems, over = _code_files(root)
            issues += [Issue(path, p, "remove it or ship code in an image") for p in problems]
            if over is not None:
                issues.append(Issue(path, f"{folder!r} holds {over}", "bake the code into an image, or use code.source: remote"))
            elif not files:
                issues.append(Issue(path, f"{folder!r} holds no source files", f"add files ending in {sorted(_CODE_SUFFIXES)}"))
            code[svc.name] = tuple(files)
    if issues:
        raise SpecError(source, issues)
    return code


def validate_stack(data: Any, source: str = "<stack>") -> StackBase:
    """Build a Stack from a dict (or check a Stack) and apply every rule."""
    if isinstance(data, StackBase):
        stack = data
    elif isinstance(data, dict):
        model = stack_model()
        try:
            stack = model.model_validate(data)
        except ValidationError as err:
            raise SpecError(source, issues_from_validation_error(err, model)) from None
    else:
        raise SpecError(
            source, [Issue("", f"the spec is a {type(data).__name__}, not a mapping", "write the stack as a mapping with apiVersion, name, target, services")]
        )
    issues = check_stack(stack)
    if issues:
        raise SpecError(source, issues)
    return stack


def read_prices(path: Path, label: str, source: str | None = None, field_path: str = "") -> tuple[Any, ...]:
    """Rows of a user price CSV.

    From the spec (``source`` and ``field_path`` given) a problem is a spec
    error at that field; from ``--prices`` it is a usage error (exit 2). Either
    way the message names the file, the row and the column.
    """
    from stackdef.catalog.prices import PriceFileError, read_csv

    def fail(problem: str, fix: str) -> Exception:
        if source is None:
            return UsageError(f"--prices {problem} ({fix})")
        return SpecError(source, [Issue(field_path, problem, fix)])

    try:
        if not path.is_file():
            raise fail(f"{label}: no such file", "point it at a price CSV")
        return tuple(read_csv(path, label))
    except PriceFileError as exc:
        raise fail(str(exc), "fix the CSV") from None
    except UnicodeDecodeError:
        raise fail(f"{label}: is not UTF-8 text", "save it as UTF-8 CSV") from None
    except (OSError, ValueError) as exc:
        raise fail(f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}", "check the path") from None


def _drafted_spec(spec: str) -> Any:
    """The stack data of a Python SPEC, with every model call recorded instead of validated.

    Only used after a normal import raised a pydantic error, to report that
    error at its full path. None when the spec does not yield a Draft this way
    (it reads attributes of the models it builds, say).
    """
    from stackdef.spec.base import Draft, drafting

    path_part, attr = split_file_attr(spec)
    p = Path(path_part)
    if p.is_dir():
        p = next((p / c for c in ("stack.py",) if (p / c).is_file()), p)
        attr = ""
    try:
        with drafting():
            if p.suffix == ".py" and p.is_file():
                module = _import_file(p, str(p))
                obj = getattr(module, attr or "stack", None)
            else:
                m = re.fullmatch(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)", spec)
                if not m:
                    return None
                sys.modules.pop(m.group(1), None)
                obj = getattr(_import_module(m.group(1), spec), m.group(2), None)
    except Exception:
        return None
    return obj.to_data() if isinstance(obj, Draft) and issubclass(obj.model, StackBase) else None


def load(spec: str) -> LoadedStack:
    """Load and fully validate the stack named by a SPEC string."""
    try:
        raw, source, base = _raw_spec(spec)
    except ValidationError as err:  # a Python spec built an invalid model
        data = _drafted_spec(spec)
        if data is not None:
            validate_stack(data, spec)  # raises with the full field paths
        raise SpecError(spec, issues_from_validation_error(err)) from None
    stack = validate_stack(raw, source)
    code = _read_local_code(stack, base, source)
    prices: tuple[Any, ...] = ()
    if stack.pricing.file:
        prices = read_prices(base / stack.pricing.file, stack.pricing.file, source, "pricing.file")
    return LoadedStack(stack=stack, source=source, warnings=tuple(stack_warnings(stack)), code=code, prices=prices)

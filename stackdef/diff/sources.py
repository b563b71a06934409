"""Where the two sides of a diff come from: a SPEC as it is now, or as it was at a git ref.

The base side is always built in a child process (``python -P``, bytecode off): a Python spec
on one side must not see the modules the other side imported, nor its working directory. The
snapshot comes back as JSON, errors as data, and nothing but stdout crosses over.

``--base-ref`` writes the commit's tree into a temporary folder through a temporary index
(``git read-tree`` + ``git checkout-index``: unlike ``git archive`` it ignores
``export-ignore``/``export-subst`` and keeps symlinks as they are); the working tree and the
real index are never touched, and the folder is removed afterwards. A spec that does not exist
at the ref is a new stack; one missing from the working tree a deleted stack (that side is empty
and costs nothing); one that exists on neither side is a usage error.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackdef.diff.snapshot import empty_snapshot, snapshot
from stackdef.errors import Issue, SpecError, UsageError

_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
_CHILD_TIMEOUT_S = 600


def build_snapshot(spec: str, prices: Path | None) -> dict[str, Any]:
    """The snapshot of ``spec``, built in this process; what a Python spec prints goes to stderr."""
    from stackdef.pipeline import build

    with _stdout_to_stderr():
        return snapshot(build(spec, prices))


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Prints (Python's and those of processes a spec runs) land on stderr: stdout holds the diff."""
    saved_fd = None
    try:
        sys.stdout.flush()
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        saved_fd = None  # no real descriptor (a captured stdout): Python-level prints only
    saved, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def build_in_child(
    spec: str, prices: Path | None, cwd: Path | None = None, replace: tuple[str, str] | None = None, pythonpath: str | None = None
) -> dict[str, Any]:
    """The snapshot of ``spec``, built in a fresh interpreter (in ``cwd``); errors raised here as they were there.

    ``replace`` = (prefix, label): a temporary folder's path in messages becomes the label.
    """
    request = json.dumps({"spec": spec, "prices": str(prices.resolve()) if prices else None})
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYDANTIC_DISABLE_PLUGINS": "__all__"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    try:
        proc = subprocess.run(
            [sys.executable, "-P", "-c", "from stackdef.diff.sources import _child; _child()"],
            input=request, capture_output=True, text=True, cwd=cwd, env=env, timeout=_CHILD_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"{spec}: building the base took over {_CHILD_TIMEOUT_S} s") from None
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"{spec}: building the base failed: {last[:300]}") from None

    def fix(text: str) -> str:
        return text.replace(replace[0], replace[1]) if replace else text

    if "snapshot" in answer:
        snap = answer["snapshot"]
        if replace:
            snap["source"] = fix(snap["source"])
        return snap
    if "spec_error" in answer:
        err = answer["spec_error"]
        raise SpecError(fix(err["source"]), [Issue(fix(i["path"]), fix(i["problem"]), fix(i["fix"])) for i in err["issues"]])
    raise UsageError(fix(answer.get("usage_error") or answer.get("internal_error") or "building the base failed"))


def _child() -> None:
    """Entry point of the child process: one request on stdin, one JSON answer on stdout."""
    sys.dont_write_bytecode = True
    request = json.loads(sys.stdin.read())
    try:  # build_snapshot sends whatever the spec prints to stderr: stdout is the answer's alone
        prices = Path(request["prices"]) if request["prices"] else None
        answer: dict[str, Any] = {"snapshot": build_snapshot(request["spec"], prices)}
    except SpecError as exc:
        answer = {"spec_error": {"source": exc.source, "issues": [{"path": i.path, "problem": i.problem, "fix": i.fix} for i in exc.issues]}}
    except UsageError as exc:
        answer = {"usage_error": str(exc)}
    except Exception as exc:  # reported by the parent in one line
        answer = {"internal_error": f"internal error: {type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer, allow_nan=False))
    sys.stdout.flush()


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
                              env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise UsageError("git not found on PATH (--base-ref reads the spec from git; install git)") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {args[0]} took over 300 s (is the repository reachable?)") from None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _split(spec: str) -> tuple[str, str]:
    """(path part, ``:attr`` or "") of a path SPEC; a module SPEC is refused."""
    from stackdef.loader import split_file_attr

    path_part, attr = split_file_attr(spec)
    if not attr and _MODULE.fullmatch(spec) and not Path(path_part).exists():
        raise UsageError(f"{spec}: --base-ref needs a spec path (path/spec.yaml, path/file.py[:attr] or a blueprint folder), not a module")
    return path_part, (f":{attr}" if attr else "")


def _map_pythonpath(value: str, root: Path, tree: Path) -> str:
    """``PYTHONPATH`` for the base: entries inside the repository point into the base's tree."""
    out = []
    for entry in filter(None, value.split(os.pathsep)):
        real = _real(Path(entry))
        out.append(str(tree / real.relative_to(root)) if real.is_relative_to(root) else str(real))
    return os.pathsep.join(out)


def _real(path: Path) -> Path:
    """``path`` made absolute with symlinks resolved, though its last parts may not exist."""
    path = Path(os.path.abspath(path))
    missing: list[str] = []
    while not path.exists() and path != path.parent:
        missing.insert(0, path.name)
        path = path.parent
    return path.resolve().joinpath(*missing)


def _existing_dir(path: Path) -> Path:
    while not path.is_dir():
        path = path.parent
    return path


def _short(ref: str) -> str:
    return ref[:12] if re.fullmatch(r"[0-9a-f]{40}", ref) else ref


def snapshot_at_ref(spec: str, ref: str, prices: Path | None, base_path: str | None = None) -> dict[str, Any]:
    """The snapshot of ``spec`` (or ``base_path``, where it lived before a move) as committed at ``ref``.

    Empty when it does not exist at the ref. A base that does not build is a new stack too,
    carrying its problems as ``errors``: the pull request that fixes it should not fail for it.
    """
    path_part, attr = _split(base_path or spec)
    # Folders resolved, the spec's own name kept: a tracked symlink is compared as the link it is.
    where = _real(Path(path_part).parent) / Path(path_part).name
    top = _git(["rev-parse", "--show-toplevel"], _existing_dir(where))
    if not top:
        raise UsageError(f"{spec}: not inside a git repository (--base-ref compares with a commit)")
    root = Path(top).resolve()
    commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if not commit:
        raise UsageError(f"{ref}: no such commit, branch or tag (fetch it first: git fetch origin {ref})")
    try:
        rel = where.relative_to(root).as_posix()
    except ValueError:
        raise UsageError(f"{spec}: is outside the repository {root}") from None
    label = f"{_short(ref)}:{rel}{attr}"
    if _git(["cat-file", "-e", f"{commit}:{rel}"], root) is None:
        if base_path is not None:
            raise UsageError(f"{base_path}: no such file at {ref} (--base-path names where the spec was)")
        if not Path(_split(spec)[0]).exists():
            raise UsageError(f"{spec}: no such file in the working tree, nor at {ref} (check the path)")
        return empty_snapshot(label)
    tmp = Path(tempfile.mkdtemp(prefix="stackdef-base-"))
    try:
        tree = tmp / "tree"
        # No smudge downloads (Git LFS) for a spec's tree; the real index is never used.
        env = {"GIT_INDEX_FILE": str(tmp / "index"), "GIT_LFS_SKIP_SMUDGE": "1"}
        if _git(["read-tree", commit], root, env) is None or _git(["checkout-index", "--all", f"--prefix={tree}/"], root, env) is None:
            raise UsageError(f"{ref}: cannot read the commit's files (is the repository complete?)")
        cwd = _real(Path.cwd())
        inside = cwd.is_relative_to(root)
        child_cwd = _existing_dir(tree / cwd.relative_to(root)) if inside else tree
        target = str(tree / rel) + attr
        pythonpath = _map_pythonpath(os.environ.get("PYTHONPATH", ""), root, tree)
        try:
            return build_in_child(target, prices, child_cwd, (str(tree / rel), f"{_short(ref)}:{rel}"), pythonpath)
        except (SpecError, UsageError) as exc:
            # The base is what the pull request changes: that it does not build (or has no stack
            # where the head has one) is shown, not held against the head.
            lines = exc.lines() if isinstance(exc, SpecError) else [str(exc)]
            snap = empty_snapshot(label)
            snap["errors"] = [line.replace(str(tree) + "/", f"{_short(ref)}:") for line in lines]
            return snap
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def base_snapshot(spec: str, prices: Path | None) -> dict[str, Any]:
    """The base of ``diff BASE HEAD``: built in a child process; one that does not build is a new stack with errors."""
    try:
        return build_in_child(spec, prices)
    except SpecError as exc:
        snap = empty_snapshot(spec)
        snap["errors"] = exc.lines()
        return snap


def head_snapshot(spec: str, prices: Path | None, *, with_base_ref: bool) -> dict[str, Any]:
    """The working tree's side; with ``--base-ref``, a spec that was deleted is an empty side."""
    if with_base_ref:
        path_part, _ = _split(spec)
        if not Path(path_part).exists():
            return empty_snapshot(spec)
    return build_snapshot(spec, prices)

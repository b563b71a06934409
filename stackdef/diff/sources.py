"""Where the two sides of a diff come from: a SPEC as it is now, or as it was at a git ref.

``--base-ref`` reads the repository at that ref with ``git archive`` into a
temporary folder (the working tree and the index are never touched), builds
the same relative SPEC there and removes the folder. A spec that does not exist
at the ref is a new stack; one that no longer exists in the working tree is a
deleted stack: that side is empty and costs nothing.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from stackdef.diff.snapshot import empty_snapshot, snapshot
from stackdef.errors import SpecError, UsageError

_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def build_snapshot(spec: str, prices: Path | None) -> dict[str, Any]:
    from stackdef.pipeline import build

    return snapshot(build(spec, prices))


def _git(args: list[str], cwd: Path, *, binary: bool = False) -> Any:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=300, check=False)
    except FileNotFoundError:
        raise UsageError("git not found on PATH (--base-ref reads the spec from git; install git)") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {args[0]} took over 300 s (is the repository reachable?)") from None
    if proc.returncode != 0:
        return None
    return proc.stdout if binary else proc.stdout.decode("utf-8", "replace").strip()


def _spec_path(spec: str) -> tuple[Path, str]:
    from stackdef.loader import split_file_attr

    path_part, attr = split_file_attr(spec)
    if _MODULE.fullmatch(spec) and not Path(path_part).exists():
        raise UsageError(f"{spec}: --base-ref needs a spec path (path/spec.yaml, path/file.py[:attr] or a blueprint folder), not a module")
    return Path(path_part), (f":{attr}" if attr else "")


def snapshot_at_ref(spec: str, ref: str, prices: Path | None) -> dict[str, Any]:
    """The snapshot of ``spec`` as committed at ``ref`` (empty if it did not exist there)."""
    path, attr = _spec_path(spec)
    here = (path if path.is_dir() else path.parent).resolve() if path.exists() else Path.cwd()
    top = _git(["rev-parse", "--show-toplevel"], here)
    if not top:
        raise UsageError(f"{spec}: not inside a git repository (--base-ref compares with a commit)")
    root = Path(top)
    commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if not commit:
        raise UsageError(f"{ref}: no such commit, branch or tag (fetch it first: git fetch origin {ref})")
    try:
        rel = Path(os.path.normpath(Path.cwd().resolve() / path)).relative_to(root.resolve())
    except ValueError:
        raise UsageError(f"{spec}: is outside the repository {root}") from None
    label = f"{ref}:{rel.as_posix()}{attr}"
    if _git(["cat-file", "-e", f"{commit}:{rel.as_posix()}"], root) is None:
        return empty_snapshot(label)
    data = _git(["archive", "--format=tar", commit], root, binary=True)
    if data is None:
        raise UsageError(f"{ref}: git archive failed (is the repository complete?)")
    tmp = Path(tempfile.mkdtemp(prefix="stackdef-base-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        where = str(tmp / rel)
        try:
            snap = build_snapshot(where + attr, prices)
        except SpecError as exc:
            raise SpecError(_relabel(exc.source, where, label), exc.issues) from None
        except UsageError as exc:
            raise UsageError(str(exc).replace(where, label)) from None
        snap["source"] = label
        return snap
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _relabel(source: str, where: str, label: str) -> str:
    return label + source[len(where):] if source.startswith(where) else source


def head_snapshot(spec: str, prices: Path | None, *, with_base_ref: bool) -> dict[str, Any]:
    """The working tree's side; with ``--base-ref``, a spec that was deleted is an empty side."""
    path, _ = _spec_path(spec)
    if with_base_ref and not path.exists():
        return empty_snapshot(spec)
    return build_snapshot(spec, prices)

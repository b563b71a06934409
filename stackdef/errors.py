"""Errors that reach the user: one line per problem, never a traceback.

Every problem is an :class:`Issue` — a field path, what is wrong, how to fix it —
printed as ``SOURCE: field.path: problem (fix)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A message part longer than this is cut (a line on a terminal, not a wall of text).
MAX_PART = 400
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str, limit: int = MAX_PART) -> str:
    """``text`` as one printable line: control characters escaped (``\\x07``, ``\\n``), cut at ``limit``."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def some(items: list[str], limit: int = 5) -> str:
    """A list for a message: the first ``limit`` items and how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True, order=True)
class Issue:
    """One problem (or warning) at one field of a spec."""

    path: str
    problem: str
    fix: str = ""

    def format(self, source: str) -> str:
        where = f"{one_line(self.path, 200)}: " if self.path else ""
        fix = f" ({one_line(self.fix)})" if self.fix else ""
        return f"{one_line(source, 300)}: {where}{one_line(self.problem)}{fix}"

    def to_dict(self) -> dict[str, str]:
        return {"path": one_line(self.path, 200), "problem": one_line(self.problem), "fix": one_line(self.fix)}


class StackdefError(Exception):
    """Base class of every error stackdef reports to a user."""


class UsageError(StackdefError):
    """The command was called wrongly (bad SPEC form, unwritable output...): exit 2."""


class SpecError(StackdefError):
    """The spec is invalid: exit 1, one line per issue."""

    def __init__(self, source: str, issues: list[Issue]):
        self.source = source
        self.issues = sorted(set(issues), key=lambda i: (i.path, i.problem))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [i.format(self.source) for i in self.issues]


def split_fix(text: str) -> tuple[str, str]:
    """Split ``'problem (fix)'`` into its two parts; the fix is the last parenthesis."""
    text = text.strip()
    if text.endswith(")") and " (" in text:
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            ch = text[i]
            if ch == ")":
                depth += 1
            elif ch == "(":
                depth -= 1
                if depth == 0:
                    if i > 0 and text[i - 1] == " ":
                        return text[: i - 1].rstrip(), text[i + 1 : -1]
                    break
    return text, ""


class MissingToolError(UsageError):
    """A command needs an external tool (pulumi, kind) that is not on PATH."""

    def __init__(self, tool: str, needed_for: str, install: str):
        self.tool = tool
        super().__init__(f"{needed_for} needs the `{tool}` CLI, which is not on PATH (install it: {install})")


class UnsupportedError(UsageError):
    """The target declares that it cannot do what was asked."""


def require_tool(tool: str, needed_for: str, install: str) -> str:
    """Absolute path of ``tool`` on PATH, or MissingToolError naming it."""
    import shutil

    path = shutil.which(tool)
    if path is None:
        raise MissingToolError(tool, needed_for, install)
    return path

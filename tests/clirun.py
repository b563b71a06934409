"""Run the stackdef CLI in-process (fast) and check the contract every run must keep."""

from __future__ import annotations

import re
from dataclasses import dataclass

from typer.testing import CliRunner

from stackdef.cli import app

#: An error line: `SOURCE: [field.path: ]problem[ (fix)]`, or `stackdef: ...` for usage errors.
ERROR_LINE = re.compile(r"^(?:stackdef: .+|warning: .+|[^\s].*?: .+)$")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line]


def run(*args: str) -> Result:
    r = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"stackdef raised {type(r.exception).__name__}: {r.exception}") from r.exception
    stderr = r.stderr if r.stderr_bytes is not None else ""
    assert "Traceback" not in stderr, stderr
    return Result(r.exit_code, r.stdout, stderr)

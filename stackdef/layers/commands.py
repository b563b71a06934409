"""CLI commands the built-in layers add: (name, "module:attribute").

Named here as strings so ``stackdef.cli`` finds them without knowing any layer; the
attribute is a Typer app (a command group) or a function (a single command).
"""

from __future__ import annotations

COMMANDS: tuple[tuple[str, str], ...] = (
    ("data", "stackdef.layers.data.cli:data_app"),
    ("features", "stackdef.layers.data.cli:features"),
)

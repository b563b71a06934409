"""``stackdef up | preview | destroy`` through Pulumi's Automation API.

Order matters: the spec is validated, then the target's declared
capabilities are honoured, then every external tool is checked (``pulumi``,
and ``kind`` for the kind target) — all before anything is created. The
program run is the very same ``stackdef.deploy.program.program`` that
``pulumi up`` runs from ``Pulumi.yaml``; state goes to a local file backend
by default (``--backend`` or ``PULUMI_BACKEND_URL`` to change it) and
Pulumi's progress is streamed as it comes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import providers
from stackdef.errors import UnsupportedError, UsageError, require_tool
from stackdef.loader import split_file_attr
from stackdef.pipeline import build

Action = Literal["up", "preview", "destroy"]
PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/"
DEFAULT_BACKEND = "file://~/.stackdef/pulumi-state"


def _project_dir(start: Path) -> Path:
    """Nearest folder holding Pulumi.yaml (stack config lives beside it); else ``.stackdef/``."""
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    fallback = start / ".stackdef"
    fallback.mkdir(exist_ok=True)
    return fallback


def _absolute_spec(spec: str) -> str:
    """The SPEC with its file or folder made absolute (the program may run elsewhere)."""
    path_part, attr = split_file_attr(spec)
    p = Path(path_part)
    return str(p.resolve()) + (f":{attr}" if attr else "") if p.exists() else spec


def preflight(action: Action, spec: str) -> tuple[object, object]:
    """Everything that must hold before Pulumi runs; raises with one clear line."""
    built = build(spec)  # SpecError → exit 1
    target = built.loaded.stack.target
    impl = providers.get(target.type)
    if not impl.capabilities.deploy:
        raise UnsupportedError(f"`stackdef {action}` on target {target.type}: {impl.capabilities.deploy_blocker}")
    require_tool("pulumi", f"`stackdef {action}`", PULUMI_INSTALL)
    impl.preflight()
    return built, impl


def run(
    action: Action,
    spec: str,
    stack_name: str,
    *,
    backend: str | None = None,
    on_output: Callable[[str], None] = print,
) -> int:
    built, impl = preflight(action, spec)
    backend = backend or os.environ.get("PULUMI_BACKEND_URL") or DEFAULT_BACKEND
    if backend.startswith("file://") and not (
        os.environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    ):
        raise UsageError(
            "the local state backend encrypts secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE "
            "(or PULUMI_CONFIG_PASSPHRASE_FILE)"
        )
    if backend.startswith("file://"):
        Path(os.path.expanduser(backend.removeprefix("file://"))).mkdir(parents=True, exist_ok=True)
    target = built.loaded.stack.target  # type: ignore[attr-defined]
    if action == "up":
        # Create (or reuse) the cluster first so the program only ever connects.
        impl.connect(target, create=True)  # type: ignore[attr-defined]

    from pulumi import automation as auto

    from stackdef.deploy.program import program

    abs_spec = _absolute_spec(spec)
    work_dir = _project_dir(Path.cwd())
    env = {"PULUMI_BACKEND_URL": backend}
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        env_vars=env,
        project_settings=None if (work_dir / "Pulumi.yaml").is_file() else auto.ProjectSettings(name="stackdef", runtime="python"),
    )
    try:
        stack = auto.create_or_select_stack(
            stack_name=stack_name, project_name="stackdef", program=lambda: program(abs_spec), opts=opts
        )
        stack.set_config("stackdef:spec", auto.ConfigValue(value=abs_spec))
        if action == "up":
            result = stack.up(on_output=on_output)
            on_output(f"outputs: {', '.join(sorted(result.outputs))}")
        elif action == "preview":
            stack.preview(on_output=on_output)
        else:
            stack.destroy(on_output=on_output)
    except auto.errors.CommandError as exc:
        raise UsageError(f"pulumi {action} failed: {str(exc).strip().splitlines()[-1]}") from None
    return 0

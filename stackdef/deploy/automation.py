"""``stackdef up | preview | destroy`` through Pulumi's Automation API.

Order matters: the spec is validated, then the target's declared
features are honoured, then every external tool is checked (``pulumi``,
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

from stackdef import providers
from stackdef.errors import UnsupportedError, UsageError, require_tool
from stackdef.loader import split_file_attr
from stackdef.pipeline import build
from stackdef.providers.base import ClusterNotFound

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


def require_deploy_extra(action: Action) -> None:
    """The Pulumi SDKs come with the ``stackdef[deploy]`` extra, not with the base install."""
    try:
        import pulumi  # noqa: F401
        import pulumi_kubernetes  # noqa: F401
    except ImportError as exc:
        missing = (exc.name or "pulumi").split(".")[0]
        raise UsageError(
            f"`stackdef {action}` needs the Pulumi SDKs ({missing} is not installed): "
            "pip install 'stackdef[deploy]'"
        ) from None


def preflight(action: Action, spec: str) -> tuple[object, object]:
    """Everything that must hold before Pulumi runs; raises with one clear line."""
    built = build(spec)  # SpecError → exit 1
    target = built.loaded.stack.target
    plan = providers.plan(target.type)
    if not plan.supports("deploy"):
        raise UnsupportedError(f"`stackdef {action}` on target {target.type}: {plan.features.reason('deploy')}")
    require_deploy_extra(action)
    require_tool("pulumi", f"`stackdef {action}`", PULUMI_INSTALL)
    connector = providers.connector(target.type)
    connector.preflight()
    return built, connector


def protected_resources(deployment: dict | None) -> list[tuple[str, str]]:
    """(type, URN) of every protected resource in an exported stack state."""
    resources = (deployment or {}).get("resources") or []
    return sorted((r.get("type", ""), r["urn"]) for r in resources if r.get("protect") and "urn" in r)


def kept_message(stack_name: str, kept: list[tuple[str, str]]) -> list[str]:
    """What `destroy` left in place and how to delete it (their data goes with them)."""
    if not kept:
        return []
    lines = [f"kept {len(kept)} protected resource(s); their data (e.g. cached model weights) survives:"]
    lines += [f"  {typ} {urn.rsplit('::', 1)[-1]}" for typ, urn in kept]
    lines.append(
        f"to delete them too: `pulumi state unprotect --stack {stack_name} --all --yes`, "
        "then run `stackdef destroy` again (the volumes' data is lost)"
    )
    return lines


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
    # Create (or reuse) the cluster for `up`, and make sure it is there for the
    # others, before Pulumi starts: the program itself only ever connects.
    try:
        connection = impl.connect(target, create=action == "up")  # type: ignore[attr-defined]
    except ClusterNotFound as exc:
        if action == "destroy":
            raise UsageError(f"{exc.what} does not exist, so there is nothing to destroy on it") from None
        raise UsageError(
            f"`stackdef {action}` compares the stack with a running cluster, and {exc.what} does not exist yet "
            "(`stackdef up` creates it; `stackdef plan` shows offline what would be created)"
        ) from None
    if action == "up":
        note = impl.check_capacity(connection, built.plan.requests.baseline.model_dump())  # type: ignore[attr-defined]
        if note:
            on_output(f"note: {note}")
        from stackdef.providers.base import registry_images_note

        images = list(built.plan.images_to_provide)
        # Connectors written before provide_images existed: their clusters pull from registries.
        provide = getattr(impl, "provide_images", None)
        for line in provide(connection, target, images) if provide else registry_images_note(images):
            on_output(line)

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
            # Protected resources (model-cache volumes) are kept, not a reason to fail.
            stack.destroy(on_output=on_output, exclude_protected=True)
            for line in kept_message(stack_name, protected_resources(stack.export_stack().deployment)):
                on_output(line)
    except auto.errors.CommandError as exc:
        raise UsageError(f"pulumi {action} failed: {str(exc).strip().splitlines()[-1]}") from None
    return 0

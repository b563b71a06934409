"""The Pulumi program: spec (from config) → the same offline pipeline → resources.

Config (namespace ``stackdef``):

- ``stackdef:spec`` — the SPEC to deploy (as on the command line);
- ``stackdef:secrets`` — secret object ``{secret-name: {key: value}}`` set with
  ``pulumi config set --secret --path 'stackdef:secrets.hf-token.token' …``;
  each becomes a Kubernetes Secret. Declared secrets absent here must already
  exist in the cluster. Values never leave Pulumi's secret handling.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stackdef import providers
from stackdef.deploy.components import StackResource
from stackdef.errors import SpecError, StackdefError
from stackdef.pipeline import Built, build
from stackdef.providers.base import ClusterConnection


def secret_values(built: Built) -> dict[str, dict[str, pulumi.Output[str]]]:
    """Declared secrets' values from ``stackdef:secrets``, each wrapped as a Pulumi secret."""
    raw = pulumi.runtime.get_config("stackdef:secrets")
    if raw is None:
        return {}
    if not pulumi.runtime.is_config_secret("stackdef:secrets"):
        raise pulumi.RunError(
            "config stackdef:secrets is stored in plain text (set it with `pulumi config set --secret --path ...`)"
        )
    try:
        given = json.loads(raw)
    except json.JSONDecodeError:
        raise pulumi.RunError("config stackdef:secrets must be an object {secret: {key: value}}") from None
    declared = {s.name: set(s.keys) for s in built.loaded.stack.secrets}
    out: dict[str, dict[str, pulumi.Output[str]]] = {}
    problems = []
    for name, keys in sorted(given.items()):
        if name not in declared:
            problems.append(f"stackdef:secrets.{name}: not a secret the spec declares ({', '.join(sorted(declared)) or 'none'})")
            continue
        if not isinstance(keys, dict):
            problems.append(f"stackdef:secrets.{name}: must be an object of key: value")
            continue
        for key in sorted(keys):
            if key not in declared[name]:
                problems.append(f"stackdef:secrets.{name}.{key}: not a declared key of {name!r}")
        out[name] = {k: pulumi.Output.secret(str(v)) for k, v in sorted(keys.items()) if k in declared[name]}
    if problems:
        raise pulumi.RunError("\n".join(problems))
    return out


def key_figures(built: Built) -> dict[str, Any]:
    plan = built.plan
    return {
        "target": plan.target.type,
        "services": len(plan.services),
        "resources": len(plan.resources),
        "max_gpus": sum(s.replicas.max * s.gpu.per_replica for s in plan.services if s.gpu),
        "baseline_monthly_usd": plan.cost.baseline_monthly_usd,
        "ceiling_monthly_usd": plan.cost.ceiling_monthly_usd,
    }


def deploy(built: Built, connection: ClusterConnection) -> StackResource:
    """Register the whole stack on the cluster behind ``connection`` and export its outputs."""
    provider = k8s.Provider(
        "k8s",
        # The kubeconfig holds cluster credentials (kind's admin key): keep it secret in state.
        kubeconfig=pulumi.Output.secret(connection.kubeconfig) if connection.kubeconfig else None,
        context=connection.context,
        enable_server_side_apply=True,
    )
    stack = StackResource(built.compiled, secret_values=secret_values(built), provider=provider)
    pulumi.export("namespace", built.plan.namespace)
    pulumi.export("endpoints", stack.endpoints)
    pulumi.export(
        "openai_base_urls",
        {s.name: s.details["openai_base_url"] for s in built.plan.services if "openai_base_url" in s.details},
    )
    pulumi.export("plan", key_figures(built))
    return stack


def program(spec: str | None = None) -> StackResource:
    """Entry point for ``Pulumi.yaml`` and the Automation API."""
    spec = spec or pulumi.Config("stackdef").require("spec")
    try:
        built = build(spec)
    except SpecError as exc:
        raise pulumi.RunError("\n".join(exc.lines())) from None
    except StackdefError as exc:
        raise pulumi.RunError(str(exc)) from None
    target = built.loaded.stack.target
    plan = providers.plan(target.type)
    if not plan.supports("deploy"):
        raise pulumi.RunError(plan.features.reason("deploy"))
    try:
        connection = providers.connector(target.type).connect(target, create=False)
    except StackdefError as exc:
        raise pulumi.RunError(str(exc)) from None
    return deploy(built, connection)

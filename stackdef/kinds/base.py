"""The service-kind interface: what a kind of service (llm, model, ...) brings.

A kind is one folder under ``stackdef/kinds/`` (or a plug-in anywhere) that
owns its spec model, its rules, its resolve step (spec → a
:class:`~stackdef.resolve.ResolvedService`), its compile step (→ a
:class:`~stackdef.compile.Component` of plain manifest dicts) and the kind's
own fields in the plan. It registers itself with
:func:`stackdef.registry.register_kind`; spec, resolve, compile, plan, cost and
deploy loop over the registry and never name a kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackdef.errors import Issue

if TYPE_CHECKING:
    from stackdef.compile.model import Component
    from stackdef.resolve.context import ResolveContext
    from stackdef.resolve.model import ResolvedService, ResolvedStack
    from stackdef.spec.base import SecretRef, WholeSecret


class RuleContext:
    """What a rule may look at: the whole stack and its target's plan."""

    def __init__(self, stack: Any, target: Any) -> None:
        self.stack = stack
        self.target = target


class ServiceKind:
    """Base class of service kinds; override what the kind needs."""

    #: The discriminator: the spec's ``type`` value.
    type: ClassVar[str]
    #: The spec model (with ``type: Literal[type]``, ``name``, ``autoscaling`` and ``budget``).
    spec: ClassVar[type[BaseModel]]

    # -- spec -----------------------------------------------------------------

    def rules(self, ctx: RuleContext, path: str, svc: Any) -> list[Issue]:
        """Cross-field problems of one service that need the stack or the target (``path``: ``services[i]``)."""
        return []

    def warnings(self, ctx: RuleContext, path: str, svc: Any) -> list[Issue]:
        """Legal but probably unintended settings."""
        return []

    def secret_refs(self, svc: Any) -> Iterable[tuple[str, SecretRef | WholeSecret]]:
        """(field path relative to the service, reference) of every Secret the service reads."""
        return ()

    def code_dirs(self, svc: Any) -> Iterable[tuple[str, str]]:
        """(field path relative to the service, folder relative to the spec) of local code to ship."""
        return ()

    # -- resolve --------------------------------------------------------------

    def resolve(self, ctx: ResolveContext, index: int, svc: Any) -> ResolvedService | None:
        """Every decision about the service; problems go to ``ctx.out.issues`` (then return None)."""
        raise NotImplementedError

    def final_warnings(self, rs: ResolvedService) -> list[Issue]:
        """Warnings that depend on the replica bounds after budget caps."""
        return []

    # -- compile and plan ----------------------------------------------------

    def components(self, rst: ResolvedStack, rs: ResolvedService) -> Component:
        """The service's manifests, as plain dicts."""
        raise NotImplementedError

    def plan_details(self, rs: ResolvedService) -> dict[str, Any]:
        """The kind's own fields of the service's plan entry (after endpoint, before workers)."""
        return {}

    def plan_summary(self, rs: ResolvedService) -> str:
        """What the service runs, in a few words (the plan table's "model / app" column)."""
        return rs.image

"""The layer interface: a part of the stack beside its services (data validation, a
feature store, monitoring, drift), declared in its own spec section.

A layer is one folder under ``stackdef/layers/`` (or a plug-in anywhere) that
owns its spec section (a pydantic model, the optional ``Stack`` field named
after the layer), its rules, its resolve step (→ a
:class:`~stackdef.resolve.ResolvedLayer`: pods, bill, endpoints), its compile
step (→ components of plain manifest dicts), and its plan section. It
registers itself with :func:`stackdef.registry.register_layer`; the core loops
over the registry and never names a layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackdef.errors import Issue

if TYPE_CHECKING:
    from stackdef.compile.model import Component
    from stackdef.kinds.base import RuleContext
    from stackdef.resolve.context import ResolveContext
    from stackdef.resolve.model import ResolvedLayer, ResolvedStack


class Layer:
    """Base class of layers; override what the layer needs."""

    #: The Stack field holding the layer's section.
    name: ClassVar[str]
    #: The section's model.
    spec: ClassVar[type[BaseModel]]
    #: The field's description in the schema.
    description: ClassVar[str]

    def rules(self, ctx: RuleContext, section: Any) -> list[Issue]:
        """Cross-field problems (paths start with the layer's name)."""
        return []

    def warnings(self, ctx: RuleContext, section: Any) -> list[Issue]:
        return []

    def secret_refs(self, section: Any) -> Iterable[tuple[str, Any]]:
        """(field path relative to the section, SecretRef or WholeSecret) of every Secret the layer reads."""
        return ()

    def resolve(self, ctx: ResolveContext, section: Any) -> ResolvedLayer | None:
        raise NotImplementedError

    def service_env(self, rl: ResolvedLayer) -> dict[str, dict[str, str]]:
        """Environment variables for the pods of services that use the layer, by service name."""
        return {}

    def components(self, rst: ResolvedStack, rl: ResolvedLayer) -> list[Component]:
        raise NotImplementedError

    def plan_section(self, rst: ResolvedStack, rl: ResolvedLayer) -> dict[str, Any]:
        """The layer's part of the plan (JSON-able), under ``layers.<name>``."""
        return {}

    def plan_tables(self, section: dict[str, Any]) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
        """(title, columns, rows) the table and Markdown views show for the layer's plan section."""
        return []

    def stages(self, section: dict[str, Any]) -> dict[str, str]:
        """Lifecycle stage of each of the layer's items by name (``diff`` reports changes), from its plan section."""
        return {}

    def graph(self, section: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The layer's part of the stack picture, from its plan section: ``{"nodes": [...], "edges": [...]}``.

        A node is ``{id, label, group, shape, component}`` (``shape``: service, store, job or
        data; ``component``: the compiled component it stands for); an edge is
        ``{from, to, label}``. Service nodes are ``svc:<name>``.
        """
        return {}

"""Operators a stack's kinds and layers need, installed once per stack.

An :class:`Operator` states its pods (billed in the CPU pool) and compiles to
its own component (a namespace plus a pinned Helm chart, say). Kinds and
layers name the operators their resolved values need; compile installs each
once, before the components that depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackdef.compile.model import Component
    from stackdef.resolve.model import PodSize


@dataclass(frozen=True)
class Operator:
    #: Component name (also what dependents list in ``depends_on``).
    name: str
    #: Short title for the bill ("KubeRay").
    title: str
    #: Its pods' requests.
    pods: tuple[PodSize, ...]
    #: rst -> Component
    build: Callable[[Any], Component]

    def component(self, rst: Any) -> Component:
        return self.build(rst)

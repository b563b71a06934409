"""The plug-in registries: service kinds, layers and cluster targets.

Each is keyed by the name the spec uses (a service's ``type``, a layer's
section name, ``target.type``). The core stages loop over these registries and
never name a kind, a layer or a target. Registering (or unregistering) one
rebuilds the :class:`~stackdef.spec.Stack` model the next time it is asked
for, so a plug-in is one folder plus one ``register_*`` call.

Built-ins register themselves when their packages are imported
(``stackdef.kinds``, ``stackdef.layers``, ``stackdef.providers``);
:func:`load_builtins` imports all three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from stackdef.kinds.base import ServiceKind
    from stackdef.layers.base import Layer
    from stackdef.providers.base import TargetConnector, TargetPlan

T = TypeVar("T")
_listeners: list[Callable[[], None]] = []


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever any registry changes (the Stack model cache uses it)."""
    _listeners.append(callback)


class Registry(Generic[T]):
    """Named plug-ins of one interface, in registration order."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> None:
        if name in self._items:
            raise ValueError(f"a {self.what} named {name!r} is already registered")
        self._items[name] = item
        for callback in _listeners:
            callback()

    def unregister(self, name: str) -> None:
        del self._items[name]
        for callback in _listeners:
            callback()

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(f"{name!r} is not a valid {self.what} among [{', '.join(self._items)}]") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())


KINDS: Registry[ServiceKind] = Registry("service kind")
LAYERS: Registry[Layer] = Registry("layer")
TARGETS: Registry[TargetPlan] = Registry("target")
#: The deploy edge's half of each target (pre-flight, connect, create); same keys as TARGETS.
CONNECTORS: Registry[TargetConnector] = Registry("target connector")


def register_kind(kind: ServiceKind) -> None:
    KINDS.register(kind.type, kind)


def register_layer(layer: Layer) -> None:
    LAYERS.register(layer.name, layer)


def register_target(plan: TargetPlan, connector: TargetConnector) -> None:
    TARGETS.register(plan.name, plan)
    CONNECTORS.register(plan.name, connector)


@contextmanager
def plugged(*plugins: Any) -> Iterator[None]:
    """Register kinds, layers or (plan, connector) target pairs for the duration of a block."""
    from stackdef.kinds.base import ServiceKind
    from stackdef.layers.base import Layer

    undo: list[Callable[[], None]] = []
    try:
        for p in plugins:
            if isinstance(p, ServiceKind):
                register_kind(p)
                undo.append(lambda p=p: KINDS.unregister(p.type))
            elif isinstance(p, Layer):
                register_layer(p)
                undo.append(lambda p=p: LAYERS.unregister(p.name))
            else:
                plan, connector = p
                register_target(plan, connector)
                undo.append(lambda n=plan.name: (TARGETS.unregister(n), CONNECTORS.unregister(n)))
        yield
    finally:
        for u in reversed(undo):
            u()


def load_builtins() -> None:
    """Import the built-in kinds, layers and targets (each registers itself)."""
    import stackdef.kinds  # noqa: F401
    import stackdef.layers  # noqa: F401
    import stackdef.providers  # noqa: F401

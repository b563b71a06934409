"""Cluster targets: one file per target, registered here.

Each file holds the target's spec model, its :class:`~stackdef.providers.base.TargetPlan`
(pure: features, GPU placement, pricing, storage) and its connector (the deploy
edge's I/O half). Importing this package registers the built-in targets;
``stackdef.registry.TARGETS.get(name)`` and ``CONNECTORS.get(name)`` look them up.
"""

from __future__ import annotations

from stackdef.providers.aks import AksPlan
from stackdef.providers.cloud import refusing_connector
from stackdef.providers.eks import EksPlan
from stackdef.providers.existing import ExistingConnector, ExistingPlan
from stackdef.providers.gke import GkePlan
from stackdef.providers.kind import KindConnector, KindPlan

from stackdef import registry

if "kind" not in registry.TARGETS:
    for _plan, _connector in (
        (KindPlan(), KindConnector()),
        (ExistingPlan(), ExistingConnector()),
        (EksPlan(), None),
        (GkePlan(), None),
        (AksPlan(), None),
    ):
        registry.register_target(_plan, _connector or refusing_connector(_plan))


def plan(name: str):  # noqa: ANN201 - TargetPlan, kept untyped to spare an import cycle
    """The TargetPlan registered for ``target.type`` ``name``."""
    return registry.TARGETS.get(name)


def connector(name: str):  # noqa: ANN201
    return registry.CONNECTORS.get(name)

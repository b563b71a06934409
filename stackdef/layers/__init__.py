"""Layers beside the services (data validation, feature store, monitoring), one folder each,
registered here (see :mod:`stackdef.layers.base`)."""

from __future__ import annotations

from stackdef import registry
from stackdef.layers.data import LAYER as DATA

for _layer in (DATA,):
    if _layer.name not in registry.LAYERS:
        registry.register_layer(_layer)

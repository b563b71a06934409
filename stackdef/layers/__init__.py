"""Layers beside the services (data validation, feature store, monitoring), one folder each,
registered here (see :mod:`stackdef.layers.base`). None is built in yet."""

from __future__ import annotations

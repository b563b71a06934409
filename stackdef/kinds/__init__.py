"""Service kinds, one folder each, registered here (see :mod:`stackdef.kinds.base`)."""

from __future__ import annotations

from stackdef import registry
from stackdef.kinds.llm import KIND as LLM
from stackdef.kinds.model import KIND as MODEL

for _kind in (LLM, MODEL):
    if _kind.type not in registry.KINDS:
        registry.register_kind(_kind)

"""The Stack model, assembled from what is registered.

``services`` is a discriminated union over the registered service kinds'
models, ``target`` one over the registered targets' models, and every
registered layer adds its optional section. The model is built on first use
and rebuilt after a registry changes (:mod:`stackdef.registry`), so a plug-in
never edits this file.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, create_model

from stackdef import registry
from stackdef.spec.base import DNS1123_LABEL, Budget, Labels, Network, Pricing, SecretDecl, _Base
from stackdef.versions import API_VERSION


class StackBase(_Base):
    """A whole ML serving stack: where it runs, what it serves, who may reach it."""

    @property
    def resolved_namespace(self) -> str:
        return self.namespace or self.name  # type: ignore[attr-defined]

    def layer_sections(self) -> list[tuple[str, BaseModel]]:
        """(layer name, section) of every registered layer this stack uses, in registration order."""
        out = []
        for layer in registry.LAYERS:
            section = getattr(self, layer.name, None)
            if section is not None:
                out.append((layer.name, section))
        return out


def _union(models: list[type[BaseModel]]) -> Any:
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007 - a runtime union


def _build() -> type[StackBase]:
    registry.load_builtins()
    kinds = list(registry.KINDS)
    targets = list(registry.TARGETS)
    fields: dict[str, Any] = {
        "api_version": (
            Literal[API_VERSION],  # type: ignore[valid-type]
            Field(API_VERSION, alias="apiVersion", description=f"Spec version; this release reads {API_VERSION}."),
        ),
        "kind": (Literal["Stack"], Field("Stack", description="Always 'Stack'.")),
        "name": (str, Field(pattern=DNS1123_LABEL, max_length=40, description="Stack name (DNS label, ≤ 40 characters).")),
        "namespace": (
            str | None,
            Field(None, pattern=DNS1123_LABEL, max_length=63, description="Kubernetes namespace; default: the stack name."),
        ),
        "target": (
            _union([t.spec for t in targets]),
            Field(description=f"Where the stack runs (`type`: {', '.join(t.name for t in targets)})."),
        ),
        "secrets": (
            list[SecretDecl],
            Field(default_factory=list, description="Secrets the stack reads (declared here, values set elsewhere)."),
        ),
        "services": (
            list[_union([k.spec for k in kinds])],  # type: ignore[misc]
            Field(min_length=1, description=f"The services the stack runs (`type`: {', '.join(k.type for k in kinds)})."),
        ),
        "network": (Network, Field(default_factory=Network, description="Network access rules.")),
        "labels": (Labels, Field(default_factory=dict, description="Labels added to every object.")),
        "budget": (
            Budget | None,
            Field(None, description="Monthly budget of the whole stack (services plus the cluster's fixed costs)."),
        ),
        "pricing": (Pricing, Field(default_factory=Pricing, description="Where instance prices come from.")),
    }
    for layer in registry.LAYERS:
        if layer.name in fields:
            raise ValueError(f"layer {layer.name!r} would replace the stack field of that name")
        fields[layer.name] = (layer.spec | None, Field(None, description=layer.description))
    model = create_model("Stack", __base__=StackBase, __module__="stackdef.spec", **fields)
    model.__doc__ = StackBase.__doc__
    return model


#: One model per registry content, so the same plug-ins always give the same class (a
#: `Stack` bound at import time stays valid once a test's temporary plug-in is gone).
_models: dict[tuple[Any, ...], type[StackBase]] = {}
_current: type[StackBase] | None = None


def _invalidate() -> None:
    global _current
    _current = None


registry.on_change(_invalidate)


def stack_model() -> type[StackBase]:
    """The Stack model for what is registered now."""
    global _current
    if _current is None:
        registry.load_builtins()
        # The plug-in objects themselves (not their ids, which a collected plug-in could pass on).
        key = tuple(x for r in (registry.KINDS, registry.TARGETS, registry.LAYERS) for x in r)
        if key not in _models:
            _models[key] = _build()
        _current = _models[key]
    return _current

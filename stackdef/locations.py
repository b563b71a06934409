"""Field paths from pydantic error locations, in one place (the loader and deep validation share it).

pydantic's ``loc`` mixes the user's field path with its own segments: the
tag of a discriminated union (``services, 0, llm, engine``), the member of a
plain union (``architecture, ModelArchitecture, params``), ``[key]`` for dict
keys. :func:`clean_loc` walks the model the data was validated against and
keeps only the fields, list indexes and dict keys the user wrote;
:func:`format_loc` spells them ``services[0].engine.dtype``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag
from pydantic.fields import FieldInfo

Loc = tuple[Any, ...]


def format_loc(loc: Iterable[Any], *, base: str = "", label: Callable[[Loc], str] | None = None) -> str:
    """``base`` + ``loc`` as ``a.b[0].c``; ``label(prefix)`` may tag a list item (deep validation names apps)."""
    out = base
    seen: list[Any] = []
    for part in loc:
        seen.append(part)
        if isinstance(part, int):
            out += f"[{part}]"
            if label is not None:
                out += label(tuple(seen))
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(tp: Any) -> tuple[Any, str | None]:
    """(type without Optional / Annotated, discriminator field if the Annotated carries one)."""
    discriminator = None
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            for meta in args[1:]:
                if isinstance(meta, FieldInfo) and isinstance(meta.discriminator, str):
                    discriminator = meta.discriminator
            tp = args[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp, discriminator


def _field(model: type[BaseModel], name: Any) -> FieldInfo | None:
    if not isinstance(name, str):
        return None
    fields = model.model_fields
    if name in fields:
        return fields[name]
    return next((f for f in fields.values() if f.alias == name), None)


def _annotation(f: FieldInfo) -> Any:
    # A field-level discriminator lives on the FieldInfo, not in the annotation.
    if isinstance(f.discriminator, str):
        return Annotated[f.annotation, FieldInfo(discriminator=f.discriminator)]
    return f.annotation


def _tag(member: Any, discriminator: str) -> Any:
    f = member.model_fields.get(discriminator) if isinstance(member, type) and issubclass(member, BaseModel) else None
    if f is not None and get_origin(f.annotation) is Literal:
        return get_args(f.annotation)
    return ()


def _tag_of(member: Any) -> Any:
    """The ``Tag`` of a member of a callable-discriminated union, if any."""
    if get_origin(member) is Annotated:
        return next((m.tag for m in get_args(member)[1:] if isinstance(m, Tag)), None)
    return None


def _untag(member: Any) -> Any:
    return get_args(member)[0] if get_origin(member) is Annotated else member


def clean_loc(model: type[BaseModel], loc: Loc) -> list[Any]:
    """The parts of ``loc`` that are the user's own field path (see module docstring)."""
    out: list[Any] = []
    tp: Any = model
    for item in loc:
        tp, discriminator = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = _field(tp, item)
            out.append(item)  # a field, or a key the user wrote that the model does not have
            tp = _annotation(f) if f is not None else Any
        elif origin in (Union, types.UnionType):
            members = [m for m in get_args(tp) if m is not type(None)]
            chosen = None
            if discriminator:
                chosen = next((m for m in members if item in _tag(m, discriminator)), None)
            if chosen is None:
                chosen = next((_untag(m) for m in members if _tag_of(m) == item), None)
            if chosen is None:
                chosen = next((m for m in members if getattr(m, "__name__", None) == item), None)
            tp = chosen if chosen is not None else Any  # a member name pydantic made up: skip it too
        elif origin in (list, tuple, set, frozenset):
            if isinstance(item, int):
                out.append(item)
                args = get_args(tp)
                tp = args[0] if args else Any
        elif origin is dict:
            if item == "[key]":
                continue
            out.append(item)
            args = get_args(tp)
            tp = args[1] if len(args) == 2 else Any
        else:
            out.append(item)
            tp = Any
    return out


def models_within(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model reachable through its fields' annotations (unions included)."""
    seen: list[type[BaseModel]] = []
    todo = [model]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.append(m)
        for info in m.model_fields.values():
            stack = [info.annotation]
            while stack:
                a = stack.pop()
                if isinstance(a, type) and issubclass(a, BaseModel):
                    todo.append(a)
                stack.extend(get_args(a))
    return seen


def field_names(model: type[BaseModel]) -> frozenset[str]:
    """Every field name (and alias) of ``model`` and the models inside it, for "did you mean" hints."""
    return frozenset(info.alias or name for m in models_within(model) for name, info in m.model_fields.items())

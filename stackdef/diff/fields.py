"""Field-level comparison of two manifest bodies, with secret values masked.

Paths read like the manifests: ``spec.template.spec.containers[ray-head].image``.
Lists whose items all carry a distinct ``name`` (containers, env, ports,
volumes) or ``groupName`` (KubeRay worker groups) are matched by that key, so
inserting a container does not shift every later one; other lists of objects
are matched by position; lists of scalars (args, accessModes) are one value.
A key with characters outside ``[A-Za-z0-9_-]`` is quoted: ``limits["nvidia.com/gpu"]``.
A Serve config embedded as YAML text (``serveConfigV2``) is compared as data.

An added or removed subtree is one change (its whole value on one side), not
one per leaf.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stackdef.diff.snapshot import MASK

#: Fields whose string value is YAML text that reads better compared as data.
_EMBEDDED_YAML = ("serveConfigV2",)
_KEYS = ("name", "groupName")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: Names of values that hold credentials when inlined (env vars, config keys).
_SECRETISH = re.compile(
    r"(?i)(passw(or)?d|passphrase|secret|token|credential|api[_-]?key|private[_-]?key"
    r"|[_-](key|auth|pass|pwd|dsn)$|^(auth|dsn|pwd)$)"
)
#: The user-info part of a URL (``https://user:pass@host``, ``git+https://token@github.com``).
_URL_USERINFO = re.compile(r"(?<=://)[^/\s]+(?=@)")  # to the last @ before the host: passwords may hold @
#: ``Password=...`` / ``pwd=...`` inside connection strings (ADO.NET, JDBC, libpq keyword form).
_CONN_PASSWORD = re.compile(r"(?i)(?<![A-Za-z])(password|passwd|pwd)\s*=\s*[^;&\s]+")
#: Key-like names that are not credentials.
_NOT_SECRET = re.compile(r"(?i)(join[_-]?keys?|sort[_-]?key|partition[_-]?key|primary[_-]?key|foreign[_-]?key)$")
_ABSENT = object()


@dataclass(frozen=True)
class FieldChange:
    path: str
    #: None when the field is absent on that side.
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


def compare(kind: str, before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Every changed field of a resource, in the after side's field order, secrets masked."""
    return [
        FieldChange(path, None if a is _ABSENT else scrub(kind, path, a), None if b is _ABSENT else scrub(kind, path, b))
        for path, a, b in _walk(_prepare(before), _prepare(after), "")
    ]


def _prepare(body: dict[str, Any]) -> dict[str, Any]:
    """Embedded YAML parsed to data; ``status`` dropped (the cluster writes it, not the spec)."""
    return {k: v for k, v in (_parse_embedded(k, v) for k, v in body.items()) if k != "status"}


def _parse_embedded(key: str, value: Any) -> tuple[str, Any]:
    if isinstance(value, dict):
        return key, dict(_parse_embedded(k, v) for k, v in value.items())
    if key in _EMBEDDED_YAML and isinstance(value, str):
        from stackdef.readers import DataError, load_yaml

        try:
            return key, load_yaml(value)
        except DataError:
            return key, value
    return key, value


def _segment(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _join(prefix: str, key: str) -> str:
    seg = _segment(key)
    if not prefix:
        return seg
    return f"{prefix}.{seg}" if _PLAIN_KEY.match(key) else f"{prefix}[{seg}]"


def _list_key(items: list[Any]) -> str | None:
    """The field that names every item of a list of objects uniquely, if there is one."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _walk(a: Any, b: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*b, *(k for k in a if k not in b)]:
            va, vb = a.get(k, _ABSENT), b.get(k, _ABSENT)
            if va != vb:
                yield from _walk(va, vb, _join(path, k))
        return
    if isinstance(a, list) and isinstance(b, list) and a != b:
        key = _list_key(a) if a else _list_key(b)
        if key is not None and (not b or _list_key(b) == key) and (not a or _list_key(a) == key):
            by_a = {i[key]: i for i in a}
            by_b = {i[key]: i for i in b}
            if [i[key] for i in a if i[key] in by_b] != [i[key] for i in b if i[key] in by_a]:
                # Same items in another order: order matters in these lists (containers, env).
                yield path, a, b
                return
            for name in [*by_b, *(n for n in by_a if n not in by_b)]:
                va, vb = by_a.get(name, _ABSENT), by_b.get(name, _ABSENT)
                if va != vb:
                    yield from _walk(va, vb, f"{path}[{name}]")
            return
        if len(a) == len(b) and all(isinstance(i, dict) for i in a + b) and a and b:
            for i, (va, vb) in enumerate(zip(a, b, strict=True)):
                if va != vb:
                    yield from _walk(va, vb, f"{path}[{i}]")
            return
    yield path, a, b


def _secretish(name: str) -> bool:
    return bool(_SECRETISH.search(name)) and not _NOT_SECRET.search(name)


#: Fields that name a Secret or its key: not secret themselves.
_REFERENCES = ("secretKeyRef", "secretRef", "secretName", "existingSecret")


def scrub(kind: str, path: str, value: Any) -> Any:
    """``value`` (found at ``path``) with every secret value replaced by ``(secret)``.

    Masked: everything under a Secret's ``data``/``stringData``; strings under a key that
    names a credential (``password``, ``api_key``, ``token``...); the ``value`` of an env
    entry whose name does (``{name: DB_PASSWORD, value: ...}``). Secret *names* and *keys*
    (``secretKeyRef.key``) stay readable: stackdef prints those in plans too.
    """
    if kind == "Secret" and path.split(".")[0].split("[")[0] in ("data", "stringData"):
        return _mask(value)
    if isinstance(value, dict):
        out = {k: scrub(kind, _join(path, k), v) for k, v in value.items()}
        if isinstance(value.get("name"), str) and _secretish(value["name"]) and isinstance(value.get("value"), str):
            out["value"] = MASK
        return out
    if isinstance(value, list):
        key = _list_key(value)
        return [scrub(kind, f"{path}[{item[key] if key else i}]", item) for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value
    value = _CONN_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", _URL_USERINFO.sub(MASK, value))
    m = re.search(r"env\[([^\]]+)\]\.value$", path)
    if m and _secretish(m.group(1)):
        return MASK
    parts = [p.strip('"]') for p in re.split(r"[.\[]", path) if p]
    if not parts or any(p in _REFERENCES for p in parts[-2:]):
        return value
    return MASK if _secretish(parts[-1]) else value


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return MASK


def _looks_like_json(text: str) -> bool:
    if text.strip() != text or not text:
        return True
    try:
        return not isinstance(json.loads(text), str)
    except ValueError:
        return False


def values_text(value: Any, limit: int = 80) -> str:
    """A value on one line for text and Markdown: JSON, shortened; absent is ``—``."""
    if value is None:
        return "—"
    if isinstance(value, str):
        if "\n" in value:
            return f"({value.count(chr(10)) + (0 if value.endswith(chr(10)) else 1)} lines of text)"
        # Quoted when it would read as something else: "" or "1" or "true" beside 1 and true.
        text = json.dumps(value, ensure_ascii=False) if _looks_like_json(value) else value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"

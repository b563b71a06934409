"""Pulumi's own preview, read from its JSON output and rendered for the pull-request comment.

Pure: standard library only, never imports ``pulumi`` (only ``stackdef/deploy`` may). Two inputs
are accepted, told apart automatically by :func:`read_preview` (shapes as of pulumi v3.259.0; the
recorded samples and their provenance are in ``tests/pulumi_samples/SOURCE.md``):

* **Engine-event stream**: JSON lines of ``apitype.EngineEvent`` (``sdk/go/common/apitype/events.go``),
  written by ``pulumi up|destroy|refresh --json``, by ``pulumi preview --json`` when
  ``PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true``, and by ``--event-log``. Blank lines are skipped;
  any other line that is not one JSON object holding one event raises :class:`ValueError` naming
  the line (a truncated last line is an error too, not silently dropped).
* **PreviewDigest**: the single JSON document plain ``pulumi preview --json`` prints
  (``pkg/display/json.go``): ``{"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"}``.

A Pulumi state file (``pulumi stack export`` or a checkpoint) is rejected with a ValueError: it
says what exists, not what would change.

Counting follows the engine (``pkg/engine/update.go``, ``OnResourceStepPost``): a step counts
under its op when it is *logical* and succeeded. A replacement is up to three steps for one URN
(``create-replacement``, ``replace``, ``delete-replaced``); only ``replace`` is logical, so it counts
once, and the other two are dropped from :attr:`Preview.steps` as ``pulumi preview --json`` does
without ``--show-replacement-steps``. ``pulumi refresh`` counts each refresh step under the op its
outputs event reports (``same``/``update``/``delete``). A ``read`` counts only if its outputs changed.
When the input carries the engine's own tally (``summaryEvent.resourceChanges`` or the digest's
``changeSummary``), **that tally wins** for :attr:`Preview.counts`: it is what Pulumi prints, and a
digest hides ``same`` steps unless ``--show-sames``, so steps alone would undercount. Without a
tally (a stream cut short) the counts come from the steps; :attr:`Preview.step_counts` is always
the count from the steps, for comparison.

No property *value* is ever kept: only ops, URNs, types, names, property paths and diagnostics.
The streams carry old/new inputs and outputs, which can hold secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["STEP_OPS", "SYMBOLS", "UPDATE_WORDS", "Diagnostic", "Preview", "Step", "pulumi_json", "pulumi_markdown", "read_preview"]

# Pulumi's StepOp vocabulary (pkg/resource/deploy/step.go). Other op strings are kept as given,
# so a newer Pulumi's ops still show up instead of failing the comment.
STEP_OPS = (
    "same",
    "create",
    "update",
    "delete",
    "replace",
    "create-replacement",
    "delete-replaced",
    "read",
    "read-replacement",
    "refresh",
    "discard",
    "discard-replaced",
    "remove-pending-replace",
    "import",
    "import-replacement",
    "diff",
    "extend-parameterize",
)

STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"

# The halves of a replacement (deploy.IsReplacementStep minus "replace" itself): never logical.
_REPLACEMENT_HALVES = frozenset(
    {"create-replacement", "delete-replaced", "read-replacement", "discard-replaced", "remove-pending-replace", "import-replacement"}
)
# Ops whose Step.Logical() is false; used where the input has no "logical" flag (the digest).
_NON_LOGICAL_OPS = _REPLACEMENT_HALVES | {"refresh", "extend-parameterize"}
_SHOWN_SEVERITIES = ("error", "warning")

# Rows inline before the table is folded into <details>.
FOLD_AFTER = 8
_MAX_PROPS_PER_ROW = 12
_MAX_DIAGNOSTICS = 20
_MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Step:
    """One shown step: what happens to one resource. ``properties`` are paths, never values."""

    op: str
    urn: str
    type: str
    name: str
    # Changed property paths: the provider's detailedDiff keys when it gave one, else the
    # top-level keys of diffs/keys. Sorted, deduplicated.
    properties: tuple[str, ...] = ()
    # Keys forcing a replacement: engine `keys` plus detailedDiff paths of kind *-replace.
    replace_reasons: tuple[str, ...] = ()
    # Managed by a provider plugin; None when the input had no state for the resource.
    custom: bool | None = None
    # Whether Pulumi's own summary counts this step (logical and not failed).
    counted: bool = True
    failed: bool = False

    @property
    def is_stack(self) -> bool:
        return self.type == STACK_TYPE

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_TYPE_PREFIX)

    @property
    def is_component(self) -> bool:
        return self.custom is False and not self.is_stack and not self.is_provider


@dataclass(frozen=True)
class Diagnostic:
    """An error or warning, its message stripped of ANSI codes and Pulumi color directives."""

    severity: str
    message: str
    urn: str = ""


@dataclass(frozen=True)
class Preview:
    """What Pulumi says would change (``kind == "preview"``) or did change (``"update"``)."""

    # "preview", "update" (up, destroy or refresh: the event stream does not say which), or "unknown".
    kind: str
    steps: tuple[Step, ...]
    counts: Mapping[str, int] = field(hash=False)
    # "summary" when counts are Pulumi's own tally, "steps" when computed from the steps.
    counts_source: str = "steps"
    diagnostics: tuple[Diagnostic, ...] = ()
    # "events" or "digest".
    source_format: str = "events"
    # summaryEvent.result (newer streams): "succeeded", "failed" or "canceled".
    result: str | None = None
    maybe_corrupt: bool = False

    def __post_init__(self) -> None:
        # Read-only and in a fixed order, so equal previews render to equal bytes.
        object.__setattr__(self, "counts", MappingProxyType({k: self.counts[k] for k in sorted(self.counts)}))

    @property
    def step_counts(self) -> dict[str, int]:
        """The count per op computed from the steps (independent of any summary in the input)."""
        return _count(self.steps)


# --------------------------------------------------------------------------------------------
# Reading


def read_preview(text: str) -> Preview:
    """Parse ``pulumi preview|up --json`` output (either format). Raises ValueError, one line, if it is neither."""
    if not isinstance(text, str):
        raise TypeError(f"read_preview expects str, got {type(text).__name__}")
    body = text.removeprefix("\ufeff")
    if not body.strip():
        raise ValueError("empty input: expected Pulumi engine-event JSON lines or a `pulumi preview --json` document")
    try:
        doc: Any = json.loads(body)
    except json.JSONDecodeError as whole:
        return _read_event_lines(body, whole)
    except RecursionError:
        raise ValueError("not usable JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object (a PreviewDigest) or JSON lines of engine events, got a JSON {_json_kind(doc)}")
    if "steps" in doc or "changeSummary" in doc:
        return _read_digest(doc)
    if "checkpoint" in doc or "deployment" in doc:
        raise ValueError(
            "this is Pulumi stack state (a checkpoint or `pulumi stack export`), not a preview: "
            "give the output of `pulumi preview --json` or `pulumi up --json`"
        )
    if _is_event(doc):
        # One event on one line, or one event pretty-printed: a stream of one.
        return _read_events([(1, doc)])
    raise ValueError(f"JSON object is neither a PreviewDigest (no 'steps' or 'changeSummary') nor an engine event (keys: {_keys(doc)})")


def _read_event_lines(body: str, whole: json.JSONDecodeError) -> Preview:
    numbered: list[tuple[int, dict[str, Any]]] = []
    for n, raw in enumerate(body.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if not numbered:
                # Not JSON lines at all (or a broken multi-line document): the whole-text error says where.
                raise ValueError(f"not valid JSON: {whole.msg} (line {whole.lineno}, column {whole.colno})") from None
            raise ValueError(f"line {n}: not valid JSON ({e.msg} at column {e.colno})") from None
        except RecursionError:
            raise ValueError(f"line {n}: not usable JSON: nested too deeply") from None
        if not isinstance(obj, dict):
            raise ValueError(f"line {n}: expected a JSON object (an engine event), got a JSON {_json_kind(obj)}")
        if not _is_event(obj):
            raise ValueError(f"line {n}: JSON object is not an engine event (no 'sequence'/'timestamp'; keys: {_keys(obj)})")
        numbered.append((n, obj))
    return _read_events(numbered)


def _is_event(obj: dict[str, Any]) -> bool:
    # EngineEvent always marshals sequence and timestamp (no omitempty).
    return "sequence" in obj or "timestamp" in obj


class _Builder:
    """A step being assembled from its pre/outputs/failed events."""

    __slots__ = ("op", "urn", "type", "custom", "props", "reasons", "logical", "failed", "read_changed", "from_refresh")

    def __init__(self, op: str, urn: str, type_: str) -> None:
        self.op, self.urn, self.type = op, urn, type_
        self.custom: bool | None = None
        self.props: set[str] = set()
        self.reasons: set[str] = set()
        self.logical = op not in _NON_LOGICAL_OPS
        self.failed = False
        self.read_changed = False
        self.from_refresh = False

    def absorb(self, meta: _Meta) -> None:
        self.props |= meta.props
        self.reasons |= meta.reasons
        if self.custom is None:
            self.custom = meta.custom
        self.read_changed = self.read_changed or meta.read_changed

    def build(self) -> Step:
        counted = not self.failed and (self.logical or self.from_refresh)
        if self.op == "read":
            counted = counted and self.read_changed
        if self.op == "refresh":
            counted = False
        type_, name = _split_urn(self.urn)
        return Step(
            op=self.op,
            urn=self.urn,
            type=self.type or type_,
            name=name,
            properties=tuple(sorted(self.props)),
            replace_reasons=tuple(sorted(self.reasons)),
            custom=self.custom,
            counted=counted,
            failed=self.failed,
        )


@dataclass
class _Meta:
    op: str
    urn: str
    type: str
    logical: bool | None
    props: set[str]
    reasons: set[str]
    custom: bool | None
    read_changed: bool


class _Run:
    """One engine operation in the stream: prelude, steps, summary."""

    def __init__(self) -> None:
        self.order: list[_Builder] = []
        self.by_key: dict[tuple[str, str], _Builder] = {}
        self.diagnostics: list[Diagnostic] = []
        self.summary: dict[str, Any] | None = None
        self.prelude_preview: bool | None = None
        self.planning = False
        self.applied = False

    def add(self, meta: _Meta) -> _Builder:
        b = _Builder(meta.op, meta.urn, meta.type)
        if meta.logical is not None:
            b.logical = meta.logical
        b.absorb(meta)
        self.order.append(b)
        self.by_key[(meta.urn, meta.op)] = b
        return b


def _read_events(numbered: Iterable[tuple[int, dict[str, Any]]]) -> Preview:
    run = _Run()
    for n, ev in numbered:
        kinds = [k for k in ev if k not in ("sequence", "timestamp")]
        if len(kinds) != 1:
            what = "no event field" if not kinds else f"{len(kinds)} event fields ({_keys(dict.fromkeys(kinds))})"
            raise ValueError(f"line {n}: an engine event has exactly one event field, this one has {what}")
        kind = kinds[0]
        payload = ev[kind]
        if not isinstance(payload, dict):
            raise ValueError(f"line {n}: {_short(kind)} must be a JSON object, got a JSON {_json_kind(payload)}")
        # A stream may hold more than one operation (a preview, then the update): keep the last.
        if run.summary is not None and kind in ("preludeEvent", "resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
            run = _Run()
        if kind == "preludeEvent":
            if isinstance(payload.get("isPreview"), bool):
                run.prelude_preview = payload["isPreview"]
        elif kind in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
            meta = _event_meta(payload, kind, n)
            if payload.get("planning") is True:
                run.planning = True
            elif kind != "resOpFailedEvent":
                run.applied = True
            _apply_step_event(run, kind, meta)
        elif kind == "diagnosticEvent":
            d = _diagnostic(payload, n)
            if d is not None and d not in run.diagnostics:
                run.diagnostics.append(d)
        elif kind == "summaryEvent":
            run.summary = _summary(payload, n)
        # Everything else (cancel, stdout, policy, progress, error, debugging, newer kinds) has no bearing.
    return _finish_run(run)


def _apply_step_event(run: _Run, kind: str, meta: _Meta) -> None:
    key = (meta.urn, meta.op)
    existing = run.by_key.get(key)
    if kind == "resourcePreEvent":
        if existing is None:
            run.add(meta)
        else:
            existing.absorb(meta)
        return
    if kind == "resOpFailedEvent":
        b = existing or run.add(meta)
        b.failed = True
        return
    # resOutputsEvent
    if existing is not None:
        existing.absorb(meta)
        return
    pending = run.by_key.get((meta.urn, "refresh"))
    if pending is not None and meta.op != "refresh" and not pending.from_refresh:
        # `pulumi refresh` reports a refresh step's outcome as the outputs event's op; the engine
        # counts it under that op (update.go: RefreshStep.ResultOp).
        del run.by_key[(meta.urn, "refresh")]
        pending.op, pending.from_refresh = meta.op, True
        pending.props, pending.reasons = set(), set()
        pending.absorb(meta)
        run.by_key[key] = pending
        return
    run.add(meta)  # outputs without a pre event: a stream joined mid-way


def _finish_run(run: _Run) -> Preview:
    steps = _drop_replacement_halves(b.build() for b in run.order)
    summary = run.summary or {}
    if isinstance(summary.get("isPreview"), bool):
        kind = "preview" if summary["isPreview"] else "update"
    elif run.prelude_preview is not None:
        kind = "preview" if run.prelude_preview else "update"
    elif run.planning:
        kind = "preview"
    elif run.applied:
        kind = "update"
    else:
        kind = "unknown"
    has_tally = run.summary is not None and "resourceChanges" in summary
    return Preview(
        kind=kind,
        steps=steps,
        counts=summary["resourceChanges"] if has_tally else _count(steps),
        counts_source="summary" if has_tally else "steps",
        diagnostics=tuple(run.diagnostics),
        source_format="events",
        result=summary.get("result"),
        maybe_corrupt=bool(summary.get("maybeCorrupt", False)),
    )


def _drop_replacement_halves(steps: Iterable[Step]) -> tuple[Step, ...]:
    steps = list(steps)
    replaced = {s.urn for s in steps if s.op == "replace"}
    # Halves without their "replace" (a failed or cut-off replacement) stay visible.
    return tuple(s for s in steps if not (s.op in _REPLACEMENT_HALVES and s.urn in replaced))


def _count(steps: Iterable[Step]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in steps:
        if s.counted:
            out[s.op] = out.get(s.op, 0) + 1
    return {k: out[k] for k in sorted(out)}


def _op_urn(obj: dict[str, Any], where: str) -> tuple[str, str]:
    op, urn = obj.get("op"), obj.get("urn")
    if not isinstance(op, str) or not op:
        raise ValueError(f"{where}.op must be a non-empty string")
    if not isinstance(urn, str) or not urn:
        raise ValueError(f"{where}.urn must be a non-empty string")
    return op, urn


def _event_meta(payload: dict[str, Any], kind: str, n: int) -> _Meta:
    where = f"line {n}: {kind}.metadata"
    m = payload.get("metadata")
    if not isinstance(m, dict):
        raise ValueError(f"{where} must be a JSON object, got {_json_kind(m) if 'metadata' in payload else 'nothing'}")
    op, urn = _op_urn(m, where)
    type_ = m.get("type", "")
    if not isinstance(type_, str):
        raise ValueError(f"{where}.type must be a string")
    # omitempty, so absent means false; the engine sets it false exactly for the ops in
    # _NON_LOGICAL_OPS, so an absent flag is inferred from the op (same answer, and robust to
    # streams from before the field existed).
    logical = m.get("logical")
    if logical is not None and not isinstance(logical, bool):
        raise ValueError(f"{where}.logical must be true or false")
    old, new = _state(m, "old", where), _state(m, "new", where)
    props, reasons = _changes(m.get("detailedDiff"), m.get("diffs"), m.get("keys"), where, ("detailedDiff", "diffs", "keys"))
    return _Meta(
        op=op,
        urn=urn,
        type=type_ or _state_type(new, old),
        logical=logical,
        props=props,
        reasons=reasons,
        custom=_custom(new, old),
        read_changed=_outputs_changed(old, new),
    )


def _state(m: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    s = m.get(key)
    if s is not None and not isinstance(s, dict):
        raise ValueError(f"{where}.{key} must be a JSON object or null")
    return s


def _state_type(*states: dict[str, Any] | None) -> str:
    for s in states:
        if s is not None and isinstance(s.get("type"), str):
            return s["type"]
    return ""


def _custom(new: dict[str, Any] | None, old: dict[str, Any] | None) -> bool | None:
    for s in (new, old):
        if s is not None:
            return s.get("custom") is True  # omitempty in events: absent means false
    return None


def _outputs_changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    # update.go shouldRecordReadStep: a read counts only if both states exist and outputs differ.
    # Compared here without keeping either side.
    if old is None or new is None:
        return False
    a, b = old.get("outputs"), new.get("outputs")
    return a is not None and b is not None and a != b


def _changes(detailed: Any, diffs: Any, keys: Any, where: str, names: tuple[str, str, str]) -> tuple[set[str], set[str]]:
    if detailed is not None and not isinstance(detailed, dict):
        raise ValueError(f"{where}.{names[0]} must be a JSON object or null")
    diff_keys = _str_list(diffs, f"{where}.{names[1]}")
    replace_keys = _str_list(keys, f"{where}.{names[2]}")
    reasons = set(replace_keys)
    paths: set[str] = set()
    for path, d in (detailed or {}).items():
        if not isinstance(d, dict):
            raise ValueError(f"{where}.{names[0]} entries must be JSON objects")
        paths.add(path)
        # The event stream calls it diffKind, the digest kind.
        kind = d.get("diffKind", d.get("kind"))
        if isinstance(kind, str) and kind.endswith("-replace"):
            reasons.add(path)
    # A detailed diff names nested paths (ingress[1].fromPort); diffs/keys only top-level keys.
    props = paths if paths else set(diff_keys) | set(replace_keys)
    return props, reasons


def _str_list(v: Any, where: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"{where} must be a list of strings")
    return v


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Pulumi's own color directives, e.g. <{%fg 1%}> and <{%reset%}> (sdk/go/common/diag/colors).
_PULUMI_COLOR = re.compile(r"<\{%.*?%\}>")
_OTHER_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean_message(s: str) -> str:
    s = _PULUMI_COLOR.sub("", _ANSI.sub("", s))
    return _OTHER_CONTROL.sub("", s.replace("\r\n", "\n")).strip()


def _diagnostic(p: dict[str, Any], where: int | str) -> Diagnostic | None:
    prefix = f"line {where}: diagnosticEvent" if isinstance(where, int) else where
    severity, message, urn = p.get("severity", ""), p.get("message", ""), p.get("urn", "")
    if not isinstance(severity, str) or not isinstance(message, str) or not isinstance(urn, str):
        raise ValueError(f"{prefix}: severity, message and urn must be strings")
    # Ephemeral messages are progress chatter; info/debug are program output, not problems.
    if p.get("ephemeral") is True or severity not in _SHOWN_SEVERITIES:
        return None
    text = _clean_message(message)
    # The digest folds the prefix ("error: ") into the message; the stream keeps it apart.
    text = text.removeprefix(f"{severity}: ").strip()
    return Diagnostic(severity=severity, message=text, urn=urn)


def _summary(p: dict[str, Any], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"maybeCorrupt": p.get("maybeCorrupt") is True}
    if "resourceChanges" in p:
        out["resourceChanges"] = _tally(p["resourceChanges"], f"line {n}: summaryEvent.resourceChanges")
    if isinstance(p.get("isPreview"), bool):
        out["isPreview"] = p["isPreview"]
    if isinstance(p.get("result"), str) and p["result"]:
        out["result"] = p["result"]
    return out


def _tally(v: Any, where: str) -> dict[str, int]:
    # Go marshals a nil map as null.
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in v.values()):
        raise ValueError(f"{where} must map ops to non-negative integers")
    return {k: c for k, c in v.items() if c}


def _read_digest(doc: dict[str, Any]) -> Preview:
    raw_steps = doc.get("steps") or []
    if not isinstance(raw_steps, list):
        raise ValueError(f"PreviewDigest.steps must be a list, got a JSON {_json_kind(raw_steps)}")
    steps: list[Step] = []
    for i, s in enumerate(raw_steps):
        where = f"PreviewDigest.steps[{i}]"
        if not isinstance(s, dict):
            raise ValueError(f"{where} must be a JSON object, got a JSON {_json_kind(s)}")
        op, urn = _op_urn(s, where)
        old, new = _state(s, "oldState", where), _state(s, "newState", where)
        props, reasons = _changes(
            s.get("detailedDiff"), s.get("diffReasons"), s.get("replaceReasons"), where, ("detailedDiff", "diffReasons", "replaceReasons")
        )
        b = _Builder(op, urn, _state_type(new, old))
        b.absorb(_Meta(op, urn, b.type, None, props, reasons, _custom(new, old), _outputs_changed(old, new)))
        steps.append(b.build())
    raw_diags = doc.get("diagnostics") or []
    if not isinstance(raw_diags, list):
        raise ValueError("PreviewDigest.diagnostics must be a list")
    diags: list[Diagnostic] = []
    for i, d in enumerate(raw_diags):
        if not isinstance(d, dict):
            raise ValueError(f"PreviewDigest.diagnostics[{i}] must be a JSON object")
        got = _diagnostic(d, f"PreviewDigest.diagnostics[{i}]")
        if got is not None and got not in diags:
            diags.append(got)
    shown = _drop_replacement_halves(steps)
    has_tally = "changeSummary" in doc
    return Preview(
        kind="preview",
        steps=shown,
        counts=_tally(doc["changeSummary"], "PreviewDigest.changeSummary") if has_tally else _count(shown),
        counts_source="summary" if has_tally else "steps",
        diagnostics=tuple(diags),
        source_format="digest",
        result=None,
        maybe_corrupt=doc.get("maybeCorrupt") is True,
    )


def _split_urn(urn: str) -> tuple[str, str]:
    """``urn:pulumi:<stack>::<project>::<parent$type>::<name>`` → (type, name); the name may hold ``::``."""
    parts = urn.split("::", 3)
    if len(parts) == 4 and parts[0].startswith("urn:pulumi:"):
        return parts[2].rsplit("$", 1)[-1], parts[3]
    return "", urn


def _json_kind(v: Any) -> str:
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "boolean"
    if v is None:
        return "null"
    return "number"


def _short(s: str, limit: int = 40) -> str:
    s = repr(s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _keys(obj: dict[str, Any]) -> str:
    names = [_short(k) for k in list(obj)[:6]]
    return ", ".join(names) + (", …" if len(obj) > 6 else "") if names else "none"


# --------------------------------------------------------------------------------------------
# Rendering

# Same symbols as stackdef's own diff; the real minus sign for delete.
#: The op symbols and words of both sections of a comment (stackdef's diff uses these too).
SYMBOLS = {"create": "+", "update": "~", "delete": "−", "replace": "±"}
_PREVIEW_WORDS = {"create": "to create", "update": "to update", "delete": "to delete", "replace": "to replace"}
UPDATE_WORDS = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced"}
_ROW_ORDER = {"create": 0, "update": 1, "replace": 2, "delete": 3}
_TITLES = {"preview": "### Pulumi preview", "update": "### Pulumi update"}


def summary_line(counts: Mapping[str, int], kind: str = "preview") -> str:
    """``+1 to create · ~2 to update · −1 to delete · ±1 to replace · 5 unchanged``.

    The four main ops and ``unchanged`` always appear, zeros included, as in stackdef's own diff
    line; other ops (import, read, discard, ...) only when present. Past tense for an update.
    """
    words = UPDATE_WORDS if kind == "update" else _PREVIEW_WORDS
    parts = [f"{SYMBOLS[op]}{counts.get(op, 0)} {words[op]}" for op in SYMBOLS]
    for op in sorted(set(counts) - set(SYMBOLS) - {"same"}):
        if counts[op]:
            # These op names come from the input: escaped.
            parts.append(f"{counts[op]} {_md_text(op)}" if kind == "update" else f"{counts[op]} to {_md_text(op)}")
    parts.append(f"{counts.get('same', 0)} unchanged")
    return " · ".join(parts)


def pulumi_markdown(preview: Preview, *, fold_after: int = FOLD_AFTER) -> str:
    """A Markdown section for a PR comment: summary, changed resources, diagnostics. Never property values."""
    out = [_TITLES.get(preview.kind, "### Pulumi changes"), "", summary_line(preview.counts, preview.kind)]
    notes = []
    if preview.counts_source == "steps":
        notes.append("_No summary from Pulumi in this output (cut short?): counts are computed from the steps._")
    if preview.result and preview.result != "succeeded":
        notes.append(f"**Result: {_md_text(preview.result)}**")
    if preview.maybe_corrupt:
        notes.append("**Pulumi reports the stack state may be corrupt** (`maybeCorrupt`).")
    if notes:
        out += [""] + notes

    rows = sorted(
        (s for s in preview.steps if s.op != "same" and (s.counted or s.failed)),
        key=lambda s: (_ROW_ORDER.get(s.op, len(_ROW_ORDER)), s.op, s.type, s.name, s.urn),
    )
    if rows:
        table = ["| | Type | Name | Changed properties |", "|---|---|---|---|"] + [_row(s) for s in rows]
        if len(rows) > fold_after:
            noun = "resource" if len(rows) == 1 else "resources"
            out += ["", "<details>", f"<summary>{len(rows)} changed {noun}</summary>", ""] + table + ["", "</details>"]
        else:
            out += [""] + table

    if preview.diagnostics:
        out += [""] + _diagnostics_block(preview.diagnostics)
    return "\n".join(out) + "\n"


def _row(s: Step) -> str:
    op = _md_text(s.op) + (" (failed)" if s.failed else "")
    sym = SYMBOLS.get(s.op)
    if sym:
        op = f"{sym} {op}"
    return f"| {op} | {_code(s.type) if s.type else '—'} | {_code(s.name)} | {_props_cell(s)} |"


def _props_cell(s: Step) -> str:
    names = sorted(set(s.properties) | set(s.replace_reasons))
    if not names:
        return "—"
    reasons = set(s.replace_reasons)
    cells = [_code(p) + (" (replace)" if p in reasons else "") for p in names[:_MAX_PROPS_PER_ROW]]
    if len(names) > _MAX_PROPS_PER_ROW:
        cells.append(f"… {len(names) - _MAX_PROPS_PER_ROW} more")
    return ", ".join(cells)


def _diagnostics_block(diags: tuple[Diagnostic, ...]) -> list[str]:
    by = {sev: sum(1 for d in diags if d.severity == sev) for sev in _SHOWN_SEVERITIES}
    head = ", ".join(f"{n} {sev}{'' if n == 1 else 's'}" for sev, n in by.items() if n)
    lines = []
    for d in diags[:_MAX_DIAGNOSTICS]:
        msg = d.message if len(d.message) <= _MAX_MESSAGE_CHARS else d.message[:_MAX_MESSAGE_CHARS] + " …"
        where = f" ({_split_urn(d.urn)[1]})" if d.urn else ""
        lines.append(f"{d.severity}{where}: {msg}")
    if len(diags) > _MAX_DIAGNOSTICS:
        lines.append(f"… {len(diags) - _MAX_DIAGNOSTICS} more")
    body = "\n".join(lines)
    # A fenced block shows text as is (no HTML, no mentions); the fence outruns any backticks inside.
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"**Diagnostics:** {head}", "", fence + "text", body, fence]


# Characters escaped with a backslash in Markdown text (CommonMark allows it for any ASCII punctuation).
_MD_PUNCT = set("\\`*_[]~$!#")
# Characters written as HTML entities: no raw tag can open, and a pipe cannot end a table cell
# (GFM splits cells before entities are decoded).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;"}
# Invisible or layout-breaking: C0/C1 controls, line/paragraph separators, bidi overrides.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(s: str) -> str:
    return _INVISIBLE.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(), f"\\u{ord(m.group()):04x}"), s)


def _md_text(s: str) -> str:
    """``s`` as literal Markdown text: shows exactly these characters, cannot open HTML or leave a table cell."""
    out = []
    for ch in _visible(s):
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch in _MD_PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _code(s: str) -> str:
    # <code> rather than a backtick span: backslash escapes and entities work inside it, so any
    # name can be shown exactly; inside a backtick span neither does.
    return f"<code>{_md_text(s)}</code>"


def pulumi_json(preview: Preview) -> dict[str, Any]:
    """A JSON-serialisable, deterministic form of the preview (paths, never values)."""
    return {
        "kind": preview.kind,
        "source_format": preview.source_format,
        "counts": dict(preview.counts),
        "counts_source": preview.counts_source,
        "result": preview.result,
        "maybe_corrupt": preview.maybe_corrupt,
        "steps": [
            {
                "op": s.op,
                "type": s.type,
                "name": s.name,
                "urn": s.urn,
                "properties": list(s.properties),
                "replace_reasons": list(s.replace_reasons),
                "custom": s.custom,
                "counted": s.counted,
                "failed": s.failed,
                "stack": s.is_stack,
                "provider": s.is_provider,
                "component": s.is_component,
            }
            for s in preview.steps
        ],
        "diagnostics": [{"severity": d.severity, "message": d.message, "urn": d.urn} for d in preview.diagnostics],
    }

"""Views of a diff document: plain text for a terminal, Markdown for a pull-request comment.

Both read only the diff document (:func:`stackdef.diff.core.diff_snapshots`),
whose field values are already masked. Markdown cells are escaped here so a
value holding ``|``, a backtick or ``<`` cannot break the table or inject HTML.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from stackdef.diff.fields import values_text
from stackdef.diff.pulumi_events import SYMBOLS, UPDATE_WORDS
from stackdef.templating import render_template

SYMBOL = {**SYMBOLS, "same": "="}
WORD = UPDATE_WORDS
#: Field rows shown before the rest folds into <details>.
SHOWN_FIELDS = 5
#: Lines of a text diff (a ConfigMap's file) shown at most.
TEXT_DIFF_LINES = 40


def usd(x: float | None) -> str:
    return "unpriced" if x is None else f"${x:,.2f}"


def signed_usd(x: float | None) -> str:
    if x is None:
        return "—"
    if abs(x) < 0.005:
        return "$0.00"
    return f"{'+' if x > 0 else '−'}${abs(x):,.2f}"


def summary_line(summary: dict[str, int], markdown: bool = False) -> str:
    parts = [f"{SYMBOL[op]}{summary[op]} {WORD[op]}" for op in ("create", "update", "delete", "replace")]
    head = " · ".join(parts)
    if markdown:
        head = f"**{head}**"
    return f"{head} · {summary['same']} unchanged"


def verdict_text(v: dict[str, Any] | None) -> str:
    if v is None or v["verdict"] == "none":
        return "no budget"
    limit = f"{usd(v['monthly_usd'])}/month, policy {v['policy']}"
    text = {
        "within": "within",
        "capped": "capped (max replicas lowered to fit)",
        "over": "OVER",
        "unknown": "not checked (unpriced)",
    }[v["verdict"]]
    return f"{text} ({limit})"


def _pair(before: Any, after: Any, fmt: Any = str) -> str:
    b = "—" if before is None else fmt(before)
    a = "—" if after is None else fmt(after)
    return b if b == a else f"{b} → {a}"


def _replicas(r: dict[str, Any] | None) -> str:
    return f"{r['min']}–{r['max']}"


# --- Markdown ---------------------------------------------------------------------------------


def md_code(text: str) -> str:
    """``text`` as a code span safe inside a table cell."""
    text = text.replace("|", "\\|").replace("\n", " ")
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str) -> str:
    """Plain text safe in Markdown and HTML (names, reasons, warnings)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return text.replace("\n", " ")


def _md_value(v: Any) -> str:
    return "—" if v is None else md_code(values_text(v))


def _text_diff(before: Any, after: Any) -> list[str] | None:
    if not (isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after)):
        return None
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1))[2:]
    if len(lines) > TEXT_DIFF_LINES:
        lines = [*lines[:TEXT_DIFF_LINES], f"… {len(lines) - TEXT_DIFF_LINES} more lines"]
    return lines


def _fence(lines: list[str]) -> str:
    run = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, run + 1)


def _md_resource(r: dict[str, Any]) -> dict[str, Any]:
    rows, texts = [], []
    for f in r["fields"]:
        rows.append((md_code(f["path"]), _md_value(f["before"]), _md_value(f["after"])))
        lines = _text_diff(f["before"], f["after"])
        if lines:
            texts.append({"path": md_code(f["path"]), "lines": lines, "fence": _fence(lines)})
    where = f"{r['namespace']}/" if r["namespace"] else ""
    return {
        "symbol": SYMBOL[r["op"]],
        "kind": md_text(r["kind"]),
        "name": md_code(where + r["name"]),
        "protected": r["protected"],
        "reasons": [md_text(x) for x in r["reasons"]],
        "problems": [md_text(x) for x in r["problems"]],
        "rows": rows,
        "texts": texts,
        "fold": len(rows) > SHOWN_FIELDS or bool(texts),
    }


def _components(doc: dict[str, Any], render: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in doc["resources"]:
        if not out or out[-1]["name"] != r["component"]:
            out.append({"name": r["component"], "resources": []})
        out[-1]["resources"].append(render(r))
    return out


def _md_services(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for s in doc["services"]:
        ceiling = lambda c: None if c is None else c["ceiling_monthly_usd"]  # noqa: E731
        gpu = _pair(s["gpu"]["before"], s["gpu"]["after"])
        fit = _pair(s["fit"]["before"], s["fit"]["after"])
        rows.append((
            md_code(s["name"]),
            SYMBOL[s["op"]] if s["op"] != "same" else "",
            md_text(gpu if gpu != "—" else "CPU"),
            md_text(fit),
            md_text(_pair(s["replicas"]["before"], s["replicas"]["after"], _replicas)),
            md_text(_pair(ceiling(s["cost"]["before"]), ceiling(s["cost"]["after"]), usd)),
            md_text(_pair(_budget_word(s["budget"]["before"]), _budget_word(s["budget"]["after"]))),
        ))
    return rows


def _budget_word(v: dict[str, Any] | None) -> str | None:
    if v is None:
        return None
    return "—" if v["verdict"] == "none" else v["verdict"]


def markdown(doc: dict[str, Any], graph: str | None = None, pulumi: str | None = None) -> str:
    """The PR-comment Markdown of a diff document (with the Mermaid graph and Pulumi's preview if given)."""
    cost = doc["cost"]
    cost_rows = [
        (label, usd(cost["before"][k]), usd(cost["after"][k]), signed_usd(cost["delta"][k]))
        for label, k in (("baseline (min replicas)", "baseline_monthly_usd"), ("ceiling (max replicas)", "ceiling_monthly_usd"))
    ]
    head, base = doc["head"], doc["base"]
    stack = head["stack"] or base["stack"]
    target = head["target"] or base["target"]
    return render_template(
        "diff.md.j2",
        stack=md_code(stack or "?"),
        target=md_text(target or "?"),
        base=md_code(base["source"]),
        head=md_code(head["source"]),
        new_stack=not base["exists"],
        base_errors=[md_text(x) for x in base.get("errors", [])],
        gone_stack=not head["exists"],
        summary=summary_line(doc["summary"], markdown=True),
        changed=doc["changed"],
        cost_rows=cost_rows,
        budget=md_text(_pair(verdict_text(doc["budget"]["before"]), verdict_text(doc["budget"]["after"]))),
        services=_md_services(doc),
        features=[
            (md_text(f["name"]), md_text(f["before"] or "—"), md_text(f["after"] or "—")) for f in doc["features"]
        ],
        warnings=[md_text(w) for w in doc["warnings"]],
        components=[{**c, "name": md_code(c["name"])} for c in _components(doc, _md_resource)],
        graph=graph,
        pulumi=pulumi,
    )


def pulumi_error_markdown(problem: str) -> str:
    return f"### Pulumi preview\n\nLeft out: {md_text(problem)} (stackdef's diff above stands on its own).\n"


def pulumi_text(doc: dict[str, Any]) -> str:
    """Pulumi's preview in the terminal view: its counts, then each changed step's properties."""
    from stackdef.diff.pulumi_events import summary_line as pulumi_summary

    out = [f"pulumi {doc['kind']}: {pulumi_summary(doc['counts'], doc['kind'])}"]
    for st in doc["steps"]:
        if st["op"] != "same" and (st["counted"] or st["failed"]):
            props = f": {', '.join(st['properties'])}" if st["properties"] else ""
            out.append(f"  {SYMBOL.get(st['op'], st['op'])} {st['type']} {st['name']}{props}")
    out.extend(f"  {d['severity']}: {d['message']}" for d in doc["diagnostics"])
    return "\n".join(out) + "\n"


def error_markdown(source: str, lines: list[str], spec_error: bool = True) -> str:
    """What the PR comment says when the head does not build (``spec_error``) or the diff cannot run."""
    return render_template("diff-error.md.j2", source=md_code(source), lines=[md_text(x) for x in lines], spec_error=spec_error)


# --- Text ---------------------------------------------------------------------------------------


def text(doc: dict[str, Any]) -> str:
    """The terminal view: summary, cost, services, then every changed resource and field."""
    head, base = doc["head"], doc["base"]
    out = [f"stackdef diff: stack {head['stack'] or base['stack']!r}: {base['source']} → {head['source']}"]
    if base.get("errors"):
        out.append("  (the base does not build, so the head is shown as a new stack:)")
        out.extend(f"    {line}" for line in base["errors"])
    elif not base["exists"]:
        out.append("  (the stack is new: it does not exist at the base)")
    if not head["exists"]:
        out.append("  (the stack is deleted: it does not exist at the head)")
    out.append("  " + summary_line(doc["summary"]))
    cost = doc["cost"]
    for label, k in (("baseline", "baseline_monthly_usd"), ("ceiling", "ceiling_monthly_usd")):
        out.append(
            f"  cost/month {label:8} {usd(cost['before'][k])} → {usd(cost['after'][k])} ({signed_usd(cost['delta'][k])})"
        )
    out.append(f"  budget: {_pair(verdict_text(doc['budget']['before']), verdict_text(doc['budget']['after']))}")
    if doc["services"]:
        out.append("services:")
        for s in doc["services"]:
            gpu = _pair(s["gpu"]["before"], s["gpu"]["after"])
            out.append(
                f"  {SYMBOL[s['op']]} {s['name']}: GPU {gpu if gpu != '—' else 'none'}, "
                f"fit {_pair(s['fit']['before'], s['fit']['after'])}, "
                f"replicas {_pair(s['replicas']['before'], s['replicas']['after'], _replicas)}"
            )
    for f in doc["features"]:
        out.append(f"  stage of {f['name']}: {f['before'] or '—'} → {f['after'] or '—'}")
    if doc["resources"]:
        out.append("resources:")
    for comp in _components(doc, lambda r: r):
        out.append(f"  {comp['name']}:")
        for r in comp["resources"]:
            where = f"{r['namespace']}/" if r["namespace"] else ""
            tag = " (protected)" if r["protected"] else ""
            out.append(f"    {SYMBOL[r['op']]} {r['kind']} {where}{r['name']}{tag}")
            out.extend(f"        why: {x}" for x in r["reasons"])
            out.extend(f"        problem: {x}" for x in r["problems"])
            for f in r["fields"]:
                out.append(f"        {f['path']}: {values_text(f['before'])} → {values_text(f['after'])}")
    if doc["warnings"]:
        out.append("warnings:")
        out.extend(f"  - {w}" for w in doc["warnings"])
    return "\n".join(out) + "\n"

"""The stack as a Mermaid flowchart, alone (``stackdef graph``) or with a diff's changes marked.

Nodes and edges come from the snapshots (:func:`stackdef.diff.snapshot.graph_of`:
services from the plan, the rest from each layer's ``graph``). In a diff, a node
only the head has is ``added``, one only the base has is ``removed`` (drawn
dashed), and one whose label or compiled component changed is ``changed``;
edges that appear are thick, edges that go away dotted.
"""

from __future__ import annotations

import re
from typing import Any

_GROUPS = {"serving": "Serving", "data": "Validated data", "features": "Feature store", "monitoring": "Monitoring"}
_SHAPES = {"service": ('("', '")'), "store": ('[("', '")]'), "job": ('[["', '"]]'), "data": ('[/"', '"/]')}
_CLASSES = (
    "classDef added fill:#dafbe1,stroke:#1a7f37,color:#1a7f37",
    "classDef changed fill:#fff8c5,stroke:#9a6700,color:#7d4e00",
    "classDef removed fill:#ffebe9,stroke:#cf222e,color:#a40e26,stroke-dasharray:4 3",
)


def _label(text: str) -> str:
    # Mermaid entity codes: a quote or bracket in a name cannot end the label early.
    for ch, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(ch, code)
    return text


def _ids(nodes: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in nodes:
        base = "n_" + re.sub(r"[^A-Za-z0-9]", "_", n["id"])
        mid, k = base, 1
        while mid in used:
            k += 1
            mid = f"{base}_{k}"
        used.add(mid)
        out[n["id"]] = mid
    return out


def mermaid(head: dict[str, Any], base: dict[str, Any] | None = None, changed_components: set[str] | frozenset[str] = frozenset()) -> str:
    """Flowchart text of ``head`` (a snapshot's ``graph``); with ``base``, marked against it."""
    new = {n["id"]: n for n in head["nodes"]}
    old = {n["id"]: n for n in base["nodes"]} if base is not None else new
    nodes = [*head["nodes"], *(n for n in (base or head)["nodes"] if n["id"] not in new)]
    status: dict[str, str] = {}
    for n in nodes:
        if n["id"] not in old:
            status[n["id"]] = "added"
        elif n["id"] not in new:
            status[n["id"]] = "removed"
        elif base is not None and (old[n["id"]]["label"] != n["label"] or n.get("component") in changed_components):
            status[n["id"]] = "changed"
    ids = _ids(nodes)
    lines = ["flowchart LR"]
    lines.extend(f"  {c}" for c in _CLASSES)
    groups = [g for g in _GROUPS if any(n["group"] == g for n in nodes)]
    groups += sorted({n["group"] for n in nodes} - set(groups))
    for g in groups:
        lines.append(f'  subgraph g_{re.sub(r"[^A-Za-z0-9]", "_", g)}["{_label(_GROUPS.get(g, g))}"]')
        for n in nodes:
            if n["group"] == g:
                open_, close = _SHAPES.get(n["shape"], ('["', '"]'))
                cls = f":::{status[n['id']]}" if n["id"] in status else ""
                lines.append(f"    {ids[n['id']]}{open_}{_label(n['label'])}{close}{cls}")
        lines.append("  end")
    new_edges = {(e["from"], e["to"], e["label"]) for e in head["edges"]}
    old_edges = {(e["from"], e["to"], e["label"]) for e in base["edges"]} if base is not None else new_edges
    edges = [*head["edges"], *(e for e in (base or head)["edges"] if (e["from"], e["to"], e["label"]) not in new_edges)]
    seen = set()
    for e in edges:
        key = (e["from"], e["to"], e["label"])
        if key in seen or e["from"] not in ids or e["to"] not in ids:
            continue  # an edge to something the stack does not have (a consumer that is no service) is not drawn
        seen.add(key)
        arrow = "==>" if key not in old_edges else ("-.->" if key not in new_edges else "-->")
        label = f'|"{_label(e["label"])}"|' if e["label"] else ""
        lines.append(f"  {ids[e['from']]} {arrow}{label} {ids[e['to']]}")
    return "\n".join(lines) + "\n"

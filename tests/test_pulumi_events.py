"""Pulumi's JSON output (engine-event streams, PreviewDigest) read and rendered for the PR comment.

Samples 01-05 are recorded engine-event streams and 06 a state checkpoint, copied from
pulumi/pulumi v3.259.0 (tests/pulumi_samples/SOURCE.md). No recorded PreviewDigest exists upstream,
so the digests here are built in the test from the Go structs in pkg/display/json.go.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stackdef.diff import pulumi_events
from stackdef.diff.pulumi_events import Diagnostic, pulumi_json, pulumi_markdown, read_preview, summary_line

SAMPLES = Path(__file__).parent / "pulumi_samples"
STREAMS = {
    "01-up-creates-eks.events.jsonl": {"create": 6},
    "02-up-update-securitygroup-detaileddiff.events.jsonl": {"same": 5, "update": 1},
    "03-preview-replace-ec2-userdata.events.jsonl": {"replace": 1, "same": 2},
    "04-up-deletes-provider-update.events.jsonl": {"delete": 3, "same": 1, "update": 1},
    "05-preview-replace-add-replace.events.jsonl": {"replace": 1},
}
CHECKPOINT = "06-checkpoint-v3-aws-countdown.state.json"


def _text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def _events(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _text(name).splitlines() if line.strip()]


def _summary_changes(name: str) -> dict[str, int]:
    (summary,) = [e["summaryEvent"] for e in _events(name) if "summaryEvent" in e]
    return summary["resourceChanges"]


def _metadata_counts(name: str) -> dict[str, int]:
    """Counted independently of the module: distinct (urn, op) over pre and outputs events, the
    halves of a replacement left out (Pulumi counts a replacement once, as "replace")."""
    seen = set()
    for e in _events(name):
        for kind in ("resourcePreEvent", "resOutputsEvent"):
            if kind in e:
                m = e[kind]["metadata"]
                seen.add((m["urn"], m["op"]))
    return dict(Counter(op for _, op in seen if op not in ("create-replacement", "delete-replaced")))


def _logical_pre_counts(name: str) -> dict[str, int]:
    """A second independent count: resourcePreEvents whose metadata says logical."""
    ops = [e["resourcePreEvent"]["metadata"]["op"] for e in _events(name) if "resourcePreEvent" in e]
    flags = [e["resourcePreEvent"]["metadata"].get("logical", False) for e in _events(name) if "resourcePreEvent" in e]
    return dict(Counter(op for op, logical in zip(ops, flags, strict=True) if logical))


def _step(preview: pulumi_events.Preview, name: str, op: str | None = None) -> pulumi_events.Step:
    (s,) = [s for s in preview.steps if s.name == name and (op is None or s.op == op)]
    return s


# ---- synthetic engine events, in the apitype.EngineEvent shape -----------------------------------


def _ev(kind: str, payload: dict[str, Any], seq: int = 0) -> str:
    return json.dumps({"sequence": seq, "timestamp": 0, kind: payload})


def _meta(op: str, urn: str, *, custom: bool = True, logical: bool | None = True, detailed: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    type_ = urn.split("::")[2].split("$")[-1]
    state = {"type": type_, "urn": urn, "id": "", "parent": "", "inputs": {}, "outputs": {}, "provider": ""}
    if custom:
        state["custom"] = True
    m: dict[str, Any] = {"op": op, "urn": urn, "type": type_, "old": None, "new": state, "detailedDiff": detailed, "provider": "", **extra}
    if logical is not None:
        m["logical"] = logical
    return m


def _urn(name: str, type_: str = "kubernetes:apps/v1:Deployment") -> str:
    return f"urn:pulumi:dev::proj::{type_}::{name}"


# ---- counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_counts_equal_the_samples_summary_and_an_independent_count(name: str) -> None:
    preview = read_preview(_text(name))
    summary = _summary_changes(name)
    assert summary == STREAMS[name]  # the sample is the one we think it is
    assert dict(preview.counts) == summary
    assert preview.counts_source == "summary"
    # Both exist here: the module's count from its steps agrees with Pulumi's tally...
    assert preview.step_counts == summary
    # ...and so do two counts made here from the raw metadata.
    assert _metadata_counts(name) == summary
    assert _logical_pre_counts(name) == summary


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_without_a_summary_event_counts_come_from_the_steps(name: str) -> None:
    cut = "\n".join(line for line in _text(name).splitlines() if '"summaryEvent"' not in line)
    preview = read_preview(cut)
    assert preview.counts_source == "steps"
    assert dict(preview.counts) == STREAMS[name]
    assert "No summary from Pulumi" in pulumi_markdown(preview)


def test_the_summary_event_wins_over_the_steps() -> None:
    # E.g. reads with unchanged outputs or untargeted resources: Pulumi's tally is what it prints.
    lines = [_ev("resourcePreEvent", {"metadata": _meta("create", _urn("web"))}), _ev("summaryEvent", {"resourceChanges": {"create": 1, "same": 7}})]
    preview = read_preview("\n".join(lines))
    assert (dict(preview.counts), preview.counts_source) == ({"create": 1, "same": 7}, "summary")
    assert preview.step_counts == {"create": 1}
    assert "+1 created · ~0 updated · −0 deleted · ±0 replaced · 7 unchanged" in pulumi_markdown(preview).splitlines()


def test_a_replacement_is_one_replace_step() -> None:
    for name in ("03-preview-replace-ec2-userdata.events.jsonl", "05-preview-replace-add-replace.events.jsonl"):
        ops = [s.op for s in read_preview(_text(name)).steps]
        raw_ops = {e["resourcePreEvent"]["metadata"]["op"] for e in _events(name) if "resourcePreEvent" in e}
        assert {"create-replacement", "replace", "delete-replaced"} <= raw_ops
        assert ops.count("replace") == 1
        assert "create-replacement" not in ops and "delete-replaced" not in ops


def test_sample_04_has_one_urn_under_two_ops() -> None:
    # A destroy that also ran the program: resA is both "same" and "delete", and the provider both
    # "update" and "delete"; Pulumi counts every one of those steps.
    preview = read_preview(_text("04-up-deletes-provider-update.events.jsonl"))
    assert {s.op for s in preview.steps if s.name == "resA"} == {"same", "delete"}
    prov = [s for s in preview.steps if s.name == "prov"]
    assert {s.op for s in prov} == {"update", "delete"}
    assert all(s.is_provider and not s.is_component and not s.is_stack for s in prov)


@pytest.mark.parametrize(
    ("name", "kind", "result"),
    [
        ("01-up-creates-eks.events.jsonl", "update", None),
        ("02-up-update-securitygroup-detaileddiff.events.jsonl", "update", None),
        ("03-preview-replace-ec2-userdata.events.jsonl", "preview", None),  # from planning: true
        ("04-up-deletes-provider-update.events.jsonl", "update", "succeeded"),  # from isPreview: false
        ("05-preview-replace-add-replace.events.jsonl", "preview", "succeeded"),
    ],
)
def test_kind_and_result(name: str, kind: str, result: str | None) -> None:
    preview = read_preview(_text(name))
    assert (preview.kind, preview.result, preview.source_format) == (kind, result, "events")
    assert pulumi_markdown(preview).startswith("### Pulumi preview\n" if kind == "preview" else "### Pulumi update\n")


# ---- changed properties -------------------------------------------------------------------------


def test_detailed_diff_paths_of_the_security_group_update() -> None:
    preview = read_preview(_text("02-up-update-securitygroup-detaileddiff.events.jsonl"))
    sg = _step(preview, "eks-sg")
    assert (sg.op, sg.type) == ("update", "aws:ec2/securityGroup:SecurityGroup")
    assert sg.properties == (
        "ingress[1].cidrBlocks[0]",
        "ingress[1].fromPort",
        "ingress[1].protocol",
        "ingress[1].self",
        "ingress[1].toPort",
    )
    assert sg.replace_reasons == ()
    assert all(s.properties == () for s in preview.steps if s.op == "same")


def test_replace_reasons_from_keys_and_from_add_replace() -> None:
    ec2 = _step(read_preview(_text("03-preview-replace-ec2-userdata.events.jsonl")), "web-server-www")
    assert (ec2.op, ec2.type) == ("replace", "aws:ec2/instance:Instance")
    assert "userData" in ec2.properties and ec2.replace_reasons == ("userData",)
    # 05 has no keys/diffs at all: the reason comes from detailedDiff {prop: add-replace}.
    res = _step(read_preview(_text("05-preview-replace-add-replace.events.jsonl")), "resA")
    assert (res.op, res.properties, res.replace_reasons) == ("replace", ("prop",), ("prop",))
    md = pulumi_markdown(read_preview(_text("03-preview-replace-ec2-userdata.events.jsonl")))
    assert "| ± replace | <code>aws:ec2/instance:Instance</code> | <code>web-server-www</code> | <code>userData</code> (replace) |" in md


def test_stack_provider_and_component_are_told_apart() -> None:
    stack = _step(read_preview(_text("01-up-creates-eks.events.jsonl")), "eks-dev")
    assert stack.is_stack and not stack.is_component and stack.custom is False
    role = _step(read_preview(_text("01-up-creates-eks.events.jsonl")), "eks-role")
    assert not (role.is_stack or role.is_provider or role.is_component) and role.custom is True
    comp_urn = _urn("chat", "stackdef:index:Service")
    preview = read_preview(_ev("resourcePreEvent", {"metadata": _meta("create", comp_urn, custom=False)}))
    assert _step(preview, "chat").is_component


# ---- the PreviewDigest (plain `pulumi preview --json`) ------------------------------------------

SECRET = "hunter2-DO-NOT-PRINT"


def _state(urn: str, *, custom: bool = True, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    # apitype.ResourceV3 as stack.SerializeResource writes it.
    type_ = urn.split("::")[2].split("$")[-1]
    return {"urn": urn, "custom": custom, "type": type_, "inputs": inputs or {}, "outputs": {"password": SECRET}}


def _digest(**overrides: Any) -> dict[str, Any]:
    stack = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
    web, db, old, cache = (_urn(n) for n in ("web", "db", "old", "cache"))
    doc = {
        "config": {"proj:token": "[secret]"},
        "steps": [
            {"op": "same", "urn": stack, "oldState": _state(stack, custom=False), "newState": _state(stack, custom=False), "detailedDiff": None},
            {
                "op": "create",
                "urn": cache,
                "provider": "urn:pulumi:dev::proj::pulumi:providers:kubernetes::k8s::id",
                "newState": _state(cache),
                "detailedDiff": None,
            },
            {
                "op": "update",
                "urn": web,
                "oldState": _state(web, inputs={"replicas": 1}),
                "newState": _state(web, inputs={"replicas": 3, "token": SECRET}),
                "diffReasons": ["spec"],
                "detailedDiff": {"spec.replicas": {"kind": "update", "inputDiff": True}, "spec.template.env[0].value": {"kind": "add", "inputDiff": True}},
            },
            {
                "op": "replace",
                "urn": db,
                "oldState": _state(db),
                "newState": _state(db, inputs={"image": SECRET}),
                "diffReasons": ["image"],
                "replaceReasons": ["image"],
                "detailedDiff": {"image": {"kind": "update-replace", "inputDiff": True}},
            },
            {"op": "delete", "urn": old, "oldState": _state(old), "detailedDiff": None},
        ],
        "diagnostics": [
            {"urn": web, "message": "warning: image tag is mutable\n", "severity": "warning"},
            {"message": "some program output\n", "severity": "info"},
        ],
        "duration": 1234567890,
        "changeSummary": {"create": 1, "update": 1, "replace": 1, "delete": 1, "same": 4},
    }
    doc.update(overrides)
    return doc


def test_a_preview_digest_parses_with_its_change_summary() -> None:
    preview = read_preview(json.dumps(_digest(), indent=4))  # MarshalIndent, as Pulumi prints it
    assert (preview.kind, preview.source_format, preview.counts_source) == ("preview", "digest", "summary")
    assert dict(preview.counts) == {"create": 1, "delete": 1, "replace": 1, "same": 4, "update": 1}
    # Without --show-sames the digest lists only the root Stack among the sames: changeSummary wins.
    assert preview.step_counts == {"create": 1, "delete": 1, "replace": 1, "same": 1, "update": 1}
    web = _step(preview, "web")
    assert (web.type, web.properties, web.replace_reasons) == ("kubernetes:apps/v1:Deployment", ("spec.replicas", "spec.template.env[0].value"), ())
    db = _step(preview, "db")
    assert (db.properties, db.replace_reasons) == (("image",), ("image",))
    assert _step(preview, "proj-dev").is_stack
    # The digest puts the prefix into the message ("warning: ..."); info output is dropped.
    assert preview.diagnostics == (Diagnostic("warning", "image tag is mutable", _urn("web")),)
    md = pulumi_markdown(preview)
    assert "+1 to create · ~1 to update · −1 to delete · ±1 to replace · 4 unchanged" in md.splitlines()


def test_a_digest_without_change_summary_and_with_replacement_steps() -> None:
    urn = _urn("db")
    steps = [
        {"op": "create-replacement", "urn": urn, "oldState": _state(urn), "newState": _state(urn), "replaceReasons": ["image"], "detailedDiff": None},
        {"op": "replace", "urn": urn, "oldState": _state(urn), "newState": _state(urn), "replaceReasons": ["image"], "detailedDiff": None},
        {"op": "delete-replaced", "urn": urn, "oldState": _state(urn), "detailedDiff": None},
    ]
    doc = _digest(steps=steps)
    del doc["changeSummary"]
    preview = read_preview(json.dumps(doc))
    assert preview.counts_source == "steps"
    assert dict(preview.counts) == {"replace": 1}
    assert [(s.op, s.properties, s.replace_reasons) for s in preview.steps] == [("replace", ("image",), ("image",))]


def test_a_state_checkpoint_is_not_a_preview() -> None:
    text = _text(CHECKPOINT)
    assert '"checkpoint"' in text
    with pytest.raises(ValueError, match="stack state") as err:
        read_preview(text)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="stack state"):
        read_preview(json.dumps({"version": 3, "deployment": json.loads(text)["checkpoint"]["latest"]}))


# ---- malformed input ----------------------------------------------------------------------------

_GOOD = _text("01-up-creates-eks.events.jsonl").splitlines()


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "empty input"),
        ("  \n\n\t\n", "empty input"),
        ("not json at all", r"not valid JSON: Expecting value \(line 1, column 1\)"),
        ("[1, 2, 3]", "got a JSON array"),
        ("42", "got a JSON number"),
        ('{"name": "x"}', "neither a PreviewDigest"),
        ("\n".join(_GOOD[:2] + [_GOOD[2][:40]] + _GOOD[3:]), r"^line 3: not valid JSON"),
        ("\n".join(_GOOD[:4] + ["[1]"]), r"^line 5: expected a JSON object \(an engine event\), got a JSON array"),
        ("\n".join(_GOOD[:1] + ['{"op": "create"}']), r"^line 2: JSON object is not an engine event"),
        ("\n".join(_GOOD[:1] + ['{"sequence": 1, "timestamp": 0}']), r"^line 2: .*no event field"),
        (_GOOD[0] + "\n" + _ev("resourcePreEvent", {"metadata": {"urn": _urn("x")}}), r"^line 2: resourcePreEvent\.metadata\.op"),
        (_GOOD[0] + "\n" + _ev("resourcePreEvent", {"metadata": _meta("update", _urn("x"), diffs="spec")}), r"^line 2: .*diffs must be a list"),
        (_GOOD[0] + "\n" + _ev("summaryEvent", {"resourceChanges": {"create": "6"}}), r"^line 2: summaryEvent\.resourceChanges"),
        (_GOOD[0] + "\n" + _ev("diagnosticEvent", "boom"), r"^line 2: 'diagnosticEvent' must be a JSON object"),
        (json.dumps({"steps": {"op": "create"}}), r"PreviewDigest\.steps must be a list"),
        (json.dumps({"steps": [{"op": "create"}]}), r"PreviewDigest\.steps\[0\]\.urn"),
        (json.dumps(_digest(changeSummary={"create": -1})), r"PreviewDigest\.changeSummary"),
        ('{"steps": [', r"not valid JSON"),
        ("[" * 100000, "nested too deeply|not valid JSON"),
    ],
)
def test_malformed_input_raises_a_one_line_value_error(text: str, pattern: str) -> None:
    with pytest.raises(ValueError) as err:
        read_preview(text)
    message = str(err.value)
    assert re.search(pattern, message), message
    assert "\n" not in message and len(message) < 300


def test_blank_lines_and_crlf_are_tolerated() -> None:
    name = "02-up-update-securitygroup-detaileddiff.events.jsonl"
    spaced = "\r\n\r\n".join(_text(name).splitlines()) + "\r\n\r\n"
    assert read_preview(spaced) == read_preview(_text(name))


def test_a_stream_holding_two_operations_keeps_the_last() -> None:
    both = _text("03-preview-replace-ec2-userdata.events.jsonl") + _text("02-up-update-securitygroup-detaileddiff.events.jsonl")
    preview = read_preview(both)
    assert (preview.kind, dict(preview.counts)) == ("update", STREAMS["02-up-update-securitygroup-detaileddiff.events.jsonl"])
    assert "web-server-www" not in {s.name for s in preview.steps}


# ---- refresh, reads, failures, diagnostics (synthetic events) -----------------------------------


def test_refresh_steps_count_under_their_result_op() -> None:
    urn = _urn("web")
    lines = [
        _ev("preludeEvent", {"config": {}}),
        _ev("resourcePreEvent", {"metadata": _meta("refresh", urn, logical=False)}),
        # `pulumi refresh`: the outputs event reports what the refresh found.
        _ev("resOutputsEvent", {"metadata": _meta("update", urn, logical=False, detailed={"spec.replicas": {"diffKind": "update", "inputDiff": False}})}),
    ]
    preview = read_preview("\n".join(lines))
    assert dict(preview.counts) == {"update": 1}
    assert [(s.op, s.properties) for s in preview.steps] == [("update", ("spec.replicas",))]
    # `up --refresh`: refresh steps keep op "refresh", are not counted and not listed.
    lines = [
        _ev("resourcePreEvent", {"metadata": _meta("refresh", urn, logical=False)}),
        _ev("resOutputsEvent", {"metadata": _meta("refresh", urn, logical=False)}),
        _ev("resourcePreEvent", {"metadata": _meta("same", urn)}),
    ]
    preview = read_preview("\n".join(lines))
    assert dict(preview.counts) == {"same": 1}
    assert "refresh" not in pulumi_markdown(preview)


def test_failed_steps_are_listed_but_not_counted() -> None:
    urn = _urn("web")
    lines = [
        _ev("resourcePreEvent", {"metadata": _meta("create", urn)}),
        _ev(
            "diagnosticEvent",
            {"urn": urn, "prefix": "<{%fg 1%}>error: <{%reset%}>", "message": "<{%reset%}>quota exceeded<{%reset%}>\n", "color": "raw", "severity": "error"},
        ),
        _ev("resOpFailedEvent", {"metadata": _meta("create", urn), "status": 1, "steps": 0}),
    ]
    preview = read_preview("\n".join(lines))
    assert dict(preview.counts) == {}
    assert _step(preview, "web").failed
    md = pulumi_markdown(preview)
    assert "| + create (failed) | <code>kubernetes:apps/v1:Deployment</code> | <code>web</code> | — |" in md
    assert "+0 created · ~0 updated · −0 deleted · ±0 replaced · 0 unchanged" in md and "error (web): quota exceeded" in md


def test_diagnostics_are_errors_and_warnings_without_color_codes() -> None:
    urn = _urn("web")
    lines = [
        _ev(
            "diagnosticEvent",
            {
                "urn": urn,
                "prefix": "<{%fg 1%}>error: <{%reset%}>",
                "message": "<{%reset%}>\x1b[31mboom\x1b[0m at `x`<{%reset%}>\n",
                "color": "raw",
                "severity": "error",
            },
        ),
        _ev("diagnosticEvent", {"message": "<{%fg 3%}>deprecated field ```spec.foo```<{%reset%}>\n", "color": "raw", "severity": "warning"}),
        _ev("diagnosticEvent", {"message": "Downloading plugin\n", "color": "raw", "severity": "warning", "ephemeral": True}),
        _ev("diagnosticEvent", {"message": "console.log output\n", "color": "raw", "severity": "info"}),
        _ev("diagnosticEvent", {"message": "stderr output\n", "color": "raw", "severity": "info#err"}),
        _ev("diagnosticEvent", {"message": "<{%fg 3%}>deprecated field ```spec.foo```<{%reset%}>\n", "color": "raw", "severity": "warning"}),
    ]
    preview = read_preview("\n".join(lines))
    assert preview.diagnostics == (Diagnostic("error", "boom at `x`", urn), Diagnostic("warning", "deprecated field ```spec.foo```"))
    md = pulumi_markdown(preview)
    assert "**Diagnostics:** 1 error, 1 warning" in md
    assert "\x1b" not in md and "<{%" not in md
    # Shown in a fence longer than any backtick run inside, so the message cannot end it.
    assert "````text\nerror (web): boom at `x`\nwarning: deprecated field ```spec.foo```\n````" in md


def test_a_read_counts_only_when_its_outputs_changed() -> None:
    urn = _urn("vpc", "aws:ec2/vpc:Vpc")
    same = {"type": "aws:ec2/vpc:Vpc", "urn": urn, "custom": True, "id": "v", "parent": "", "inputs": {}, "outputs": {"cidr": "10.0.0.0/16"}, "provider": ""}
    changed = dict(same, outputs={"cidr": "10.1.0.0/16"})
    for new, expected in ((same, {}), (changed, {"read": 1})):
        meta = dict(_meta("read", urn), old=same, new=new)
        assert dict(read_preview(_ev("resourcePreEvent", {"metadata": meta})).counts) == expected


# ---- rendering ----------------------------------------------------------------------------------


def _input_output_strings(name: str) -> set[str]:
    def walk(v: Any) -> Any:
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from walk(x)
        elif isinstance(v, list):
            for x in v:
                yield from walk(x)

    found: set[str] = set()
    for e in _events(name):
        for kind in ("resourcePreEvent", "resOutputsEvent"):
            m = e.get(kind, {}).get("metadata", {})
            for side in ("old", "new"):
                for part in ("inputs", "outputs"):
                    found |= set(walk((m.get(side) or {}).get(part) or {}))
    return found


def test_no_input_or_output_value_reaches_the_markdown_or_json() -> None:
    checked = 0
    for name in STREAMS:
        preview = read_preview(_text(name))
        rendered = pulumi_markdown(preview) + json.dumps(pulumi_json(preview))
        shown = {s.name for s in preview.steps}
        # Short strings ("tcp", "/") and values that are also a resource's name ("Name" tags) are
        # not evidence of a leak; everything else must be absent.
        values = {v for v in _input_output_strings(name) if len(v) >= 6 and v not in shown}
        leaked = sorted(v for v in values if v in rendered)
        assert leaked == [], f"{name}: {leaked[:5]}"
        checked += len(values)
    assert checked > 60  # the check saw real values
    # Specific values: the new userData script, an AMI, a VPC, the AWS account id.
    md = pulumi_markdown(read_preview(_text("03-preview-replace-ec2-userdata.events.jsonl")))
    assert "Hello, Pulumi!" in _text("03-preview-replace-ec2-userdata.events.jsonl") and "Hello" not in md
    assert "ami-0175af5baaf2bce8e" not in md
    md = pulumi_markdown(read_preview(_text("02-up-update-securitygroup-detaileddiff.events.jsonl")))
    assert "vpc-4b82e033" not in md and "616138583583" not in md and "0.0.0.0/0" not in md
    preview = read_preview(json.dumps(_digest()))
    assert SECRET not in pulumi_markdown(preview) and SECRET not in json.dumps(pulumi_json(preview))


HOSTILE = "evil|name`x`<img src=x onerror=alert(1)>\n| injected | row |\u202e[link](http://x) *b* \\|"
HOSTILE_PATH = 'tags["</code><script>alert(1)</script>"]|`'


def _unescape_cell(code_html: str) -> str:
    # What a CommonMark renderer shows for our escaping: backslash escapes, then entities.
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", code_html))


def test_hostile_names_and_paths_cannot_break_the_table_or_inject_html() -> None:
    urn = _urn(HOSTILE)
    meta = _meta("update", urn, detailed={HOSTILE_PATH: {"diffKind": "update", "inputDiff": True}}, diffs=["tags"])
    md = pulumi_markdown(read_preview(_ev("resourcePreEvent", {"metadata": meta})))
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert len(rows) == 3  # header, rule, one row: the newline in the name did not start a row
    assert all(line.count("|") == 5 for line in rows)  # every pipe left is a cell border
    assert not any(line.startswith("| injected") for line in md.splitlines())
    assert set(re.findall(r"<\s*/?\s*([A-Za-z][\w-]*)", md)) <= {"code", "details", "summary"}
    assert "<img" not in md and "<script" not in md
    cells = re.findall(r"<code>(.*?)</code>", rows[2])
    # The cells show exactly the name and the path (control and bidi characters made visible).
    assert _unescape_cell(cells[1]) == HOSTILE.replace("\n", "\\n").replace("\u202e", "\\u202e")
    assert _unescape_cell(cells[2]) == HOSTILE_PATH
    assert "\\`" in cells[1] and "&#124;" in cells[1] and "&lt;img" in cells[1] and "\\[link\\]" in cells[1]


def test_hostile_op_and_diagnostic_stay_inert() -> None:
    urn = _urn("web")
    lines = [
        _ev("resourcePreEvent", {"metadata": _meta("<b>op|x", urn), "planning": True}),
        _ev("summaryEvent", {"resourceChanges": {"<b>op|x": 1}}),
        _ev("diagnosticEvent", {"urn": urn, "message": "</details><img src=x>\n```\n@someone", "severity": "error"}),
    ]
    md = pulumi_markdown(read_preview("\n".join(lines)))
    assert "1 to &lt;b&gt;op&#124;x" in md
    assert all(line.count("|") == 5 for line in md.splitlines() if line.startswith("|"))
    body = md.split("````text\n", 1)[1]
    assert body.startswith("error (web): </details><img src=x>\n```\n@someone\n````")  # inside a fence: shown as text


def test_markdown_and_json_are_byte_deterministic() -> None:
    for name in STREAMS:
        a, b = read_preview(_text(name)), read_preview(_text(name))
        assert pulumi_markdown(a).encode() == pulumi_markdown(b).encode()
        assert json.dumps(pulumi_json(a), sort_keys=True) == json.dumps(pulumi_json(b), sort_keys=True)
        json.dumps(pulumi_json(a), allow_nan=False)  # plain JSON
    # Also across interpreters with different hash seeds (no set or dict order leaks into output).
    script = (
        "import sys, json; from pathlib import Path; from stackdef.diff.pulumi_events import *\n"
        "for f in sorted(Path(sys.argv[1]).glob('0[1-5]*')):\n"
        "    p = read_preview(f.read_text()); sys.stdout.write(pulumi_markdown(p) + json.dumps(pulumi_json(p)))\n"
    )
    outs = {
        subprocess.run([sys.executable, "-c", script, str(SAMPLES)], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, check=True).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1 and len(next(iter(outs))) > 1000


def _creates(n: int) -> str:
    return "\n".join(_ev("resourcePreEvent", {"metadata": _meta("create", _urn(f"svc-{i:02d}")), "planning": True}) for i in range(n))


def test_more_than_eight_rows_fold_into_details() -> None:
    md8 = pulumi_markdown(read_preview(_creates(8)))
    assert "<details>" not in md8 and md8.count("| + create |") == 8
    md9 = pulumi_markdown(read_preview(_creates(9)))
    assert "<details>\n<summary>9 changed resources</summary>\n\n| | Type | Name | Changed properties |" in md9
    assert md9.rstrip().endswith("</details>") and md9.count("| + create |") == 9
    assert "+9 to create" in md9.split("<details>")[0]  # the summary stays outside the fold


def test_unchanged_resources_are_counted_not_listed() -> None:
    md = pulumi_markdown(read_preview(_text("02-up-update-securitygroup-detaileddiff.events.jsonl")))
    rows = [line for line in md.splitlines() if line.startswith("| ") and "Type" not in line]
    assert len(rows) == 1 and "eks-sg" in rows[0]
    assert "+0 created · ~1 updated · −0 deleted · ±0 replaced · 5 unchanged" in md.splitlines()
    assert "eks-role" not in md


def test_summary_line_symbols() -> None:
    assert (
        summary_line({"create": 1, "update": 2, "delete": 3, "replace": 4, "same": 5})
        == "+1 to create · ~2 to update · −3 to delete · ±4 to replace · 5 unchanged"
    )
    assert summary_line({"delete": 3, "same": 1, "update": 1}, "update") == "+0 created · ~1 updated · −3 deleted · ±0 replaced · 1 unchanged"
    assert summary_line({"same": 2}) == "+0 to create · ~0 to update · −0 to delete · ±0 to replace · 2 unchanged"
    assert summary_line({"import": 2, "read": 1}) == "+0 to create · ~0 to update · −0 to delete · ±0 to replace · 2 to import · 1 to read · 0 unchanged"
    assert "\u22121 to delete" in summary_line({"delete": 1}) and "-" not in summary_line({"delete": 1})


def test_json_form() -> None:
    doc = pulumi_json(read_preview(_text("03-preview-replace-ec2-userdata.events.jsonl")))
    assert doc["counts"] == {"replace": 1, "same": 2} and doc["kind"] == "preview"
    (replace,) = [s for s in doc["steps"] if s["op"] == "replace"]
    assert replace == {
        "op": "replace",
        "type": "aws:ec2/instance:Instance",
        "name": "web-server-www",
        "urn": "urn:pulumi:dev::aws-ts-webserver::aws:ec2/instance:Instance::web-server-www",
        "properties": ["userData"],
        "replace_reasons": ["userData"],
        "custom": True,
        "counted": True,
        "failed": False,
        "stack": False,
        "provider": False,
        "component": False,
    }


# ---- purity -------------------------------------------------------------------------------------


def test_the_module_uses_only_the_standard_library_and_never_pulumi() -> None:
    tree = ast.parse(Path(pulumi_events.__file__).read_text(encoding="utf-8"))
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert roots and roots <= set(sys.stdlib_module_names) | {"__future__"}, roots
    code = "import sys, stackdef.diff.pulumi_events; print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"

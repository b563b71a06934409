"""``stackdef diff``: golden Markdown and JSON for spec pairs, the op rules, the CLI contract.

Each case edits a copy of ``tests/data/diff/base.yaml``; its Markdown and JSON are compared with
``tests/golden/diff/<case>.{md,json}`` byte for byte (``pytest --update-golden`` rewrites them).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdef.diff import views
from stackdef.diff.core import diff_snapshots
from stackdef.diff.fields import FieldChange, compare
from stackdef.diff.graph import mermaid
from stackdef.diff.rules import classify
from stackdef.diff.snapshot import MASK, empty_snapshot
from stackdef.diff.sources import build_snapshot
from tests.clirun import run
from tests.util import REPO

BASE = REPO / "tests" / "data" / "diff" / "base.yaml"
GOLDEN = REPO / "tests" / "golden" / "diff"


def base_data() -> dict[str, Any]:
    return yaml.safe_load(BASE.read_text(encoding="utf-8"))


def _svc(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in d["services"] if s["name"] == name)


def add_service(d: dict[str, Any]) -> None:
    d["services"].append({
        "type": "model", "name": "summarizer", "import_path": "summarizer.app:app", "deployment": "Summarizer",
        "image": "rayproject/ray:2.56.0-py311",
        "code": {"source": "remote", "working_dir": "https://artifacts.example.com/shop/summarizer-0.3.0.zip"},
        "resources": {"cpu": 2, "memory": "4Gi"}, "autoscaling": {"min_replicas": 1, "max_replicas": 3},
    })


def scale_max(d: dict[str, Any]) -> None:
    _svc(d, "chat")["autoscaling"]["max_replicas"] = 4


def gpu_type(d: dict[str, Any]) -> None:
    _svc(d, "chat")["accelerator"]["type"] = "A10G"


def secret_key(d: dict[str, Any]) -> None:
    d["secrets"][0]["keys"] = ["HF_TOKEN"]
    _svc(d, "chat")["hf_token"]["key"] = "HF_TOKEN"


def immutable_field(d: dict[str, Any]) -> None:
    _svc(d, "chat")["model_cache"]["storage_class"] = "fast-efs"


def rename_service(d: dict[str, Any]) -> None:
    _svc(d, "ranker")["name"] = "ranker-v2"
    d["data"]["feature_store"]["feature_services"][0]["consumers"] = ["ranker-v2"]


def graduate_feature(d: dict[str, Any]) -> None:
    view = d["data"]["feature_store"]["feature_views"][0]
    view["stage"] = "production"
    view["freshness_sla"] = "2h"


def cap_budget(d: dict[str, Any]) -> None:
    d["budget"] = {"monthly_usd": 1500, "policy": "cap"}


def no_change(d: dict[str, Any]) -> None:
    pass


CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "add-service": add_service,
    "scale-max": scale_max,
    "gpu-type": gpu_type,
    "secret-key": secret_key,
    "immutable-field": immutable_field,
    "rename-service": rename_service,
    "graduate-feature": graduate_feature,
    "cap-budget": cap_budget,
    "no-change": no_change,
}


def write_spec(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base_snapshot() -> dict[str, Any]:
    snap = build_snapshot(str(BASE), None)
    snap["source"] = "base.yaml"
    return snap


def case_doc(case: str, tmp_path: Path, base_snapshot: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    data = base_data()
    CASES[case](data)
    head = build_snapshot(str(write_spec(tmp_path, f"{case}.yaml", data)), None)
    head["source"] = f"{case}.yaml"
    return diff_snapshots(base_snapshot, head), head


def _changed_components(doc: dict[str, Any]) -> set[str]:
    return {r["component"] for r in doc["resources"]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_diff_matches_golden(case: str, tmp_path: Path, base_snapshot: dict[str, Any], update_golden: bool) -> None:
    doc, head = case_doc(case, tmp_path, base_snapshot)
    md = views.markdown(doc, mermaid(head["graph"], base_snapshot["graph"], _changed_components(doc)))
    js = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if update_golden:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / f"{case}.md").write_text(md, encoding="utf-8")
        (GOLDEN / f"{case}.json").write_text(js, encoding="utf-8")
    assert (GOLDEN / f"{case}.md").is_file(), f"no golden for {case}: run pytest --update-golden"
    assert md == (GOLDEN / f"{case}.md").read_text(encoding="utf-8"), f"{case}.md differs from golden"
    assert js == (GOLDEN / f"{case}.json").read_text(encoding="utf-8"), f"{case}.json differs from golden"


def _by_name(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["kind"], r["name"]): r for r in doc["resources"]}


def test_add_service_creates_its_resources_and_costs_more(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("add-service", tmp_path, base_snapshot)
    created = {(r["kind"], r["name"]) for r in doc["resources"] if r["op"] == "create"}
    assert {("RayService", "summarizer"), ("NetworkPolicy", "summarizer")} <= created
    assert doc["summary"]["create"] == len(created) and doc["summary"]["delete"] == 0
    svc = next(s for s in doc["services"] if s["name"] == "summarizer")
    assert svc["op"] == "create" and svc["replicas"] == {"before": None, "after": {"min": 1, "max": 3}}
    assert doc["cost"]["delta"]["baseline_monthly_usd"] > 0
    assert doc["cost"]["delta"]["ceiling_monthly_usd"] >= doc["cost"]["delta"]["baseline_monthly_usd"]


def test_scale_max_starts_a_new_cluster_so_the_new_bound_applies(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    # KubeRay would keep a running cluster's old maxReplicas; the worker template names the bounds,
    # so the change is a zero-downtime new RayCluster that has them.
    doc, _ = case_doc("scale-max", tmp_path, base_snapshot)
    rs = _by_name(doc)[("RayService", "chat")]
    assert rs["op"] == "replace" and "new RayCluster" in rs["reasons"][0] and "worker-replicas" in rs["reasons"][0]
    assert rs["problems"] == []
    paths = {f["path"]: (f["before"], f["after"]) for f in rs["fields"]}
    assert paths["spec.rayClusterConfig.workerGroupSpecs[gpu].maxReplicas"] == (2, 4)
    assert paths['spec.rayClusterConfig.workerGroupSpecs[gpu].template.metadata.annotations["stackdef.dev/worker-replicas"]'] == ("0-2", "0-4")
    assert doc["cost"]["delta"]["baseline_monthly_usd"] == 0
    assert doc["cost"]["delta"]["ceiling_monthly_usd"] > 0
    assert next(s for s in doc["services"] if s["name"] == "chat")["replicas"]["after"] == {"min": 0, "max": 4}


def test_gpu_type_change_replaces_the_ray_cluster(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("gpu-type", tmp_path, base_snapshot)
    rs = _by_name(doc)[("RayService", "chat")]
    assert rs["op"] == "replace" and "new RayCluster" in rs["reasons"][0]
    chat = next(s for s in doc["services"] if s["name"] == "chat")
    assert chat["gpu"] == {"before": "L4×1", "after": "A10G×1"}
    assert doc["cost"]["delta"]["ceiling_monthly_usd"] != 0
    assert any("more A10G GPU(s) during the rollout" in w for w in doc["warnings"])


def test_secret_key_change_is_masked(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("secret-key", tmp_path, base_snapshot)
    secret = _by_name(doc)[("Secret", "hf-token")]
    assert secret["op"] == "replace"  # Pulumi replaces a Secret whose data changes
    assert {(f["path"], f["before"], f["after"]) for f in secret["fields"]} == {
        ("stringData.HF_TOKEN", None, MASK), ("stringData.token", MASK, None)
    }
    # The consumers' references name the new key (a key name is no secret).
    refs = [f for f in _by_name(doc)[("RayService", "chat")]["fields"] if f["path"].endswith("secretKeyRef.key")]
    assert refs and all((f["before"], f["after"]) == ("token", "HF_TOKEN") for f in refs)


def test_immutable_field_replaces_the_protected_volume_and_warns(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("immutable-field", tmp_path, base_snapshot)
    pvc = _by_name(doc)[("PersistentVolumeClaim", "chat-model-cache")]
    assert pvc["op"] == "replace" and pvc["protected"]
    assert pvc["reasons"] == ["a PVC's storage class is immutable"]
    assert any("PersistentVolumeClaim shop/chat-model-cache is protected and would be replaced" in w for w in doc["warnings"])


def test_rename_is_a_delete_and_a_create(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("rename-service", tmp_path, base_snapshot)
    ops = {(r["kind"], r["name"]): r["op"] for r in doc["resources"]}
    assert ops[("RayService", "ranker")] == "delete" and ops[("RayService", "ranker-v2")] == "create"
    assert [(s["name"], s["op"]) for s in doc["services"] if s["name"].startswith("ranker")] == [("ranker-v2", "create"), ("ranker", "delete")]


def test_graduation_is_listed(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("graduate-feature", tmp_path, base_snapshot)
    assert doc["features"] == [{"layer": "data", "name": "feature view user-clicks", "before": "validated", "after": "production"}]
    # The feature server reads its repo at start: a new repo rolls it.
    server = _by_name(doc)[("Deployment", "feast-server")]
    assert [f["path"] for f in server["fields"]] == ['spec.template.metadata.annotations["stackdef.dev/feast-repo"]']


def test_budget_cap_verdict(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("cap-budget", tmp_path, base_snapshot)
    assert doc["budget"]["before"] == {"verdict": "none"}
    after = doc["budget"]["after"]
    assert after["verdict"] == "capped" and after["monthly_usd"] == 1500
    assert after["ceiling_monthly_usd"] <= 1500


def test_no_change(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, _ = case_doc("no-change", tmp_path, base_snapshot)
    assert not doc["changed"] and doc["resources"] == []
    assert doc["summary"]["same"] == len(base_snapshot["resources"])


# --- field comparison and op rules ------------------------------------------------------------


def test_named_lists_are_matched_by_name() -> None:
    a = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}}
    b = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}, {"name": "c", "image": "z:1"}]}}
    assert compare("Pod", a, b) == [
        FieldChange("spec.containers[b].image", "y:1", "y:2"),
        FieldChange("spec.containers[c]", None, {"name": "c", "image": "z:1"}),
    ]


def test_keys_with_dots_are_quoted_and_serve_config_is_compared_as_data() -> None:
    a = {"r": {"limits": {"nvidia.com/gpu": 1}}, "spec": {"serveConfigV2": "applications:\n- name: x\n  route_prefix: /\n"}}
    b = {"r": {"limits": {"nvidia.com/gpu": 2}}, "spec": {"serveConfigV2": "applications:\n- name: x\n  route_prefix: /v1\n"}}
    assert [c.path for c in compare("RayService", a, b)] == ['r.limits["nvidia.com/gpu"]', "spec.serveConfigV2.applications[x].route_prefix"]


@pytest.mark.parametrize(
    ("kind", "path", "before", "after"),
    [
        ("Secret", "stringData.password", {"stringData": {"password": "hunter2"}}, {"stringData": {"password": "hunter3"}}),
        ("Deployment", "spec.env[DB_PASSWORD].value", {"spec": {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}}, {"spec": {"env": [{"name": "DB_PASSWORD", "value": "hunter3"}]}}),
        ("ConfigMap", "data.api_key", {"data": {"api_key": "hunter2"}}, {"data": {"api_key": "hunter3"}}),
    ],
)
def test_secret_values_never_appear(kind: str, path: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    changes = compare(kind, before, after)
    assert [(c.path, c.before, c.after) for c in changes] == [(path, MASK, MASK)]


def test_a_new_subtree_is_scrubbed_too() -> None:
    changes = compare("Deployment", {"spec": {}}, {"spec": {"env": [{"name": "API_TOKEN", "value": "s3cr3t"}, {"name": "MODE", "value": "fast"}]}})
    assert "s3cr3t" not in json.dumps([c.to_json() for c in changes]) and "fast" in json.dumps([c.to_json() for c in changes])


@pytest.mark.parametrize(
    ("api", "kind", "path", "op"),
    [
        ("apps/v1", "Deployment", "spec.selector.matchLabels.app", "replace"),
        ("apps/v1", "Deployment", "spec.template.spec.containers[a].image", "update"),
        ("apps/v1", "StatefulSet", "spec.volumeClaimTemplates[0].spec.resources.requests.storage", "replace"),
        ("apps/v1", "StatefulSet", "spec.replicas", "update"),
        ("batch/v1", "Job", "spec.template.spec.containers[a].args", "replace"),
        ("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec.containers[a].args", "update"),
        ("v1", "PersistentVolumeClaim", "spec.accessModes", "replace"),
        ("v1", "PersistentVolumeClaim", "spec.resources.requests.storage", "update"),
        ("v1", "Service", "spec.clusterIP", "replace"),
        ("v1", "Service", "spec.ports[http].port", "update"),
        ("v1", "ConfigMap", "data.x", "replace"),
        ("networking.k8s.io/v1", "NetworkPolicy", "spec.ingress[0]", "update"),
    ],
)
def test_replace_rules(api: str, kind: str, path: str, op: str) -> None:
    assert classify(api, kind, [FieldChange(path, 1, 2)]).op == op


def test_pvc_shrink_is_refused_not_replaced() -> None:
    v = classify("v1", "PersistentVolumeClaim", [FieldChange("spec.resources.requests.storage", "50Gi", "40Gi")])
    assert v.op == "update" and v.problems == ("the API server refuses it: a PVC cannot shrink (50Gi → 40Gi)",)


def test_rayservice_rules() -> None:
    head = FieldChange("spec.rayClusterConfig.headGroupSpec.template.spec.containers[ray-head].image", "a", "b")
    assert classify("ray.io/v1", "RayService", [head]).op == "replace"
    tol = FieldChange("spec.rayClusterConfig.workerGroupSpecs[gpu].template.spec.tolerations", [], [{"key": "x"}])
    assert classify("ray.io/v1", "RayService", [tol]).op == "update"
    # Bounds alone (a RayService that does not name them in its template) never reach the cluster.
    bound = FieldChange("spec.rayClusterConfig.workerGroupSpecs[gpu].maxReplicas", 2, 4)
    v = classify("ray.io/v1", "RayService", [bound])
    assert v.op == "update" and "keeps maxReplicas 2 (not 4)" in v.problems[0]
    assert "tolerations" in classify("ray.io/v1", "RayService", [tol]).problems[0]
    add = FieldChange("spec.rayClusterConfig.workerGroupSpecs[big]", None, {"groupName": "big"})
    def groups(*names: str) -> dict[str, Any]:
        return {"spec": {"rayClusterConfig": {"workerGroupSpecs": [{"groupName": n} for n in names]}}}
    v = classify("ray.io/v1", "RayService", [add], groups("gpu"), groups("gpu", "big"))
    assert v.op == "update" and "adds the new worker group" in v.reasons[0]
    # Inserted before an existing group: KubeRay re-hashes the first N groups, so a new cluster.
    assert classify("ray.io/v1", "RayService", [add], groups("gpu"), groups("big", "gpu")).op == "replace"
    first = FieldChange("spec.rayClusterConfig.workerGroupSpecs[gpu]", None, {"groupName": "gpu"})
    assert classify("ray.io/v1", "RayService", [first], groups(), groups("gpu")).op == "update"
    # The controller reads the new spec's strategy.
    none = {"spec": {"upgradeStrategy": {"type": "None"}}}
    v = classify("ray.io/v1", "RayService", [head], {}, none)
    assert v.op == "update" and "drifts" in v.problems[0]
    assert classify("ray.io/v1", "RayService", [head], none, {}).op == "replace"


# --- views: escaping and determinism -----------------------------------------------------------


def test_markdown_cells_are_escaped() -> None:
    assert views.md_code("a|b") == "`a\\|b`"
    assert views.md_code("x`y") == "``x`y``"
    assert views.md_text("<script>|") == "&lt;script&gt;\\|"


def test_same_snapshots_give_the_same_bytes(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    a, _ = case_doc("gpu-type", tmp_path, base_snapshot)
    b, _ = case_doc("gpu-type", tmp_path, base_snapshot)
    assert json.dumps(a) == json.dumps(b) and views.markdown(a) == views.markdown(b)


def test_new_and_deleted_stacks(base_snapshot: dict[str, Any]) -> None:
    new = diff_snapshots(empty_snapshot("main:shop.yaml"), base_snapshot)
    assert new["summary"]["create"] == len(base_snapshot["resources"]) and new["cost"]["before"] == {"baseline_monthly_usd": 0.0, "ceiling_monthly_usd": 0.0}
    gone = diff_snapshots(base_snapshot, empty_snapshot("shop.yaml"))
    assert gone["summary"]["delete"] == len(base_snapshot["resources"])
    assert gone["cost"]["delta"]["baseline_monthly_usd"] == -base_snapshot["plan"]["cost"]["baseline_monthly_usd"]
    assert "stack deleted" in views.markdown(gone)


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path: Path) -> None:
    same = run("diff", str(BASE), str(BASE), "--exit-code")
    assert same.code == 0, same.stderr
    data = base_data()
    scale_max(data)
    head = write_spec(tmp_path, "head.yaml", data)
    assert run("diff", str(BASE), str(head), "--exit-code").code == 1
    assert run("diff", str(BASE), str(head)).code == 0
    data["services"][0]["accelerator"]["type"] = "NOPE"
    bad = write_spec(tmp_path, "bad.yaml", data)
    r = run("diff", str(BASE), str(bad), "-f", "markdown", "--exit-code")
    assert r.code == 2 and "does not build" in r.stdout and "accelerator.type" in r.stderr
    assert run("diff", str(BASE)).code == 2  # neither HEAD nor --base-ref


def test_cli_json_is_the_document(tmp_path: Path) -> None:
    data = base_data()
    gpu_type(data)
    head = write_spec(tmp_path, "head.yaml", data)
    doc = json.loads(run("diff", str(BASE), str(head), "-f", "json").stdout)
    assert set(doc) >= {"summary", "resources", "cost", "budget", "services", "features", "warnings"}
    assert doc["summary"]["replace"] >= 1


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_base_ref_reads_the_commit_without_touching_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    spec = write_spec(repo, "shop.yaml", base_data())
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    data = base_data()
    scale_max(data)
    write_spec(repo, "shop.yaml", data)
    before = spec.read_text()
    monkeypatch.chdir(repo)
    r = run("diff", "shop.yaml", "--base-ref", "main", "-f", "json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["base"]["source"] == "main:shop.yaml" and doc["summary"]["replace"] == 1
    assert spec.read_text() == before
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status.strip() == "M shop.yaml"
    # A spec the base does not have is a new stack; a bad ref is an error.
    write_spec(repo, "new.yaml", base_data())
    doc = json.loads(run("diff", "new.yaml", "--base-ref", "main", "-f", "json").stdout)
    assert doc["base"]["exists"] is False and doc["summary"]["same"] == 0 and doc["summary"]["create"] > 0
    bad = run("diff", "shop.yaml", "--base-ref", "no-such-ref")
    assert bad.code == 2 and "no-such-ref" in bad.stderr


def test_graph_command_prints_mermaid() -> None:
    r = run("graph", str(BASE))
    assert r.code == 0 and r.stdout.startswith("flowchart LR\n")
    assert re.search(r"n_svc_chat\(\"chat \(llm\)", r.stdout)
    assert "n_feast_server -->|\"ranker-v1\"| n_svc_ranker" in r.stdout


def test_graph_marks_added_changed_removed(tmp_path: Path, base_snapshot: dict[str, Any]) -> None:
    doc, head = case_doc("rename-service", tmp_path, base_snapshot)
    text = mermaid(head["graph"], base_snapshot["graph"], _changed_components(doc))
    assert 'n_svc_ranker_v2("ranker-v2' in text and ":::added" in text.split("n_svc_ranker_v2", 1)[1].split("\n", 1)[0]
    assert ":::removed" in text.split('n_svc_ranker("', 1)[1].split("\n", 1)[0]
    assert "n_feast_server -.->|\"ranker-v1\"| n_svc_ranker\n" in text and "n_feast_server ==>|\"ranker-v1\"| n_svc_ranker_v2" in text


def test_copy_is_not_shared(base_snapshot: dict[str, Any]) -> None:
    # Diffing never mutates its inputs (the CLI reuses snapshots for the graph).
    snap = copy.deepcopy(base_snapshot)
    diff_snapshots(base_snapshot, base_snapshot)
    assert snap == base_snapshot


def test_cli_adds_pulumis_own_preview(tmp_path: Path) -> None:
    events = REPO / "tests" / "pulumi_samples" / "03-preview-replace-ec2-userdata.events.jsonl"
    md = run("diff", str(BASE), str(BASE), "-f", "markdown", "--pulumi-events", str(events))
    assert md.code == 0, md.stderr
    assert md.stdout.index("### stackdef diff") < md.stdout.index("Pulumi preview")
    assert "±1" in md.stdout.split("Pulumi preview", 1)[1]
    doc = json.loads(run("diff", str(BASE), str(BASE), "-f", "json", "--pulumi-events", str(events)).stdout)
    assert doc["pulumi"]["counts"]["replace"] == 1
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    # Pulumi's part is an extra: an unreadable file leaves it out, stackdef's diff stands.
    bad = run("diff", str(BASE), str(BASE), "-f", "markdown", "--pulumi-events", str(junk))
    assert bad.code == 0 and "### stackdef diff" in bad.stdout and "Left out:" in bad.stdout
    assert bad.lines[0].startswith(f"warning: Pulumi's preview left out: {junk}:") and len(bad.lines) == 1
    doc = json.loads(run("diff", str(BASE), str(BASE), "-f", "json", "--pulumi-events", str(junk)).stdout)
    assert doc["pulumi"]["error"].startswith(str(junk))
    text = run("diff", str(BASE), str(BASE), "--pulumi-events", str(events)).stdout
    assert "pulumi preview: +0 to create · ~0 to update · −0 to delete · ±1 to replace · 2 unchanged" in text


def test_budget_verdict_alone_is_a_change(tmp_path: Path) -> None:
    data = base_data()
    data["budget"] = {"monthly_usd": 100000, "policy": "warn"}
    head = write_spec(tmp_path, "head.yaml", data)
    r = run("diff", str(BASE), str(head), "-f", "json", "--exit-code")
    doc = json.loads(r.stdout)
    assert doc["resources"] == [] and doc["budget"]["after"]["verdict"] == "within"
    assert doc["changed"] and r.code == 1


def test_a_spec_on_neither_side_is_an_error_and_errors_print_their_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    monkeypatch.chdir(repo)
    r = run("diff", "typo.yaml", "--base-ref", "main", "-f", "markdown", "--exit-code")
    assert r.code == 2 and "no such file in the working tree, nor at main" in r.stderr and "does not build" not in r.stdout
    assert r.stdout.startswith("### stackdef diff: ") and "no such file" in r.stdout
    j = run("diff", "shop.yaml", "--base-ref", "nope", "-f", "json")
    assert j.code == 2 and json.loads(j.stdout)["error"] is True


def test_a_base_that_does_not_build_shows_the_head_as_new(tmp_path: Path) -> None:
    data = base_data()
    data["services"][0]["accelerator"]["type"] = "NOPE"
    bad = write_spec(tmp_path, "bad.yaml", data)
    r = run("diff", str(bad), str(BASE), "-f", "markdown", "--exit-code")
    assert r.code == 1, r.stderr
    assert "The base does not build" in r.stdout and "accelerator.type" in r.stdout
    doc = json.loads(run("diff", str(bad), str(BASE), "-f", "json").stdout)
    assert doc["base"]["exists"] is False and doc["base"]["errors"] and doc["summary"]["same"] == 0


def test_more_credentials_are_masked() -> None:
    before = {"spec": {"env": [{"name": "OPENAI_KEY", "value": "sk-live-1"}], "pip": ["git+https://ghp_A@github.com/x/y"], "url": "postgres://u:hunter2@db/x"}}
    after = {"spec": {"env": [{"name": "OPENAI_KEY", "value": "sk-live-2"}], "pip": ["git+https://ghp_B@github.com/x/y"], "url": "postgres://u:hunter3@db/x"}}
    text = json.dumps([c.to_json() for c in compare("Deployment", before, after)])
    for secret in ("sk-live", "ghp_", "hunter"):
        assert secret not in text
    assert "postgres://(secret)@db/x" in text
    conn = compare("ConfigMap", {"data": {"db": "postgres://app:new@pw@db/x", "ado": "Server=x;Password=p@ss;Db=y", "FEAST_JOIN_KEY": "user_id"}},
                   {"data": {"db": "postgres://app:old@pw@db/x", "ado": "Server=x;Password=q@ss;Db=y", "FEAST_JOIN_KEY": "item_id"}})
    shown = json.dumps([c.to_json() for c in conn])
    assert "pw@db" not in shown and "new" not in shown and "ss;" not in shown and "Password=(secret);Db=y" in shown
    assert "item_id" in shown  # a join key is no credential
    tol = compare("Pod", {"tolerations": [{"key": "nvidia.com/gpu"}]}, {"tolerations": [{"key": "amd.com/gpu"}]})
    assert tol[0].after == "amd.com/gpu"  # a toleration's key is no credential


def test_a_price_change_does_not_restart_the_gpu_cluster(tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("provider,instance_type,region,vcpu,ram_gib,usd_per_hour,gpu_model,gpu_count\naws,g6.xlarge,us-east-1,4,16,0.5,L4,1\n")
    doc = json.loads(run("diff", str(BASE), str(BASE), "-f", "json", "--prices", str(prices)).stdout)
    assert doc["summary"]["update"] == 0  # both sides read the same prices
    data = base_data()
    data["pricing"] = {"file": "prices.csv"}
    head = write_spec(tmp_path, "head.yaml", data)
    doc = json.loads(run("diff", str(BASE), str(head), "-f", "json").stdout)
    rs = _by_name(doc)[("RayService", "chat")]
    assert rs["op"] == "update" and all(f["path"].startswith("metadata.annotations") for f in rs["fields"])
    assert doc["cost"]["delta"]["ceiling_monthly_usd"] < 0


def test_a_label_does_not_replace_the_protected_redis(tmp_path: Path) -> None:
    data = base_data()
    data["labels"] = {"team": "search"}
    doc = json.loads(run("diff", str(BASE), str(write_spec(tmp_path, "head.yaml", data)), "-f", "json").stdout)
    assert _by_name(doc)[("StatefulSet", "feast-redis")]["op"] == "update"
    assert not any("protected" in w for w in doc["warnings"])


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    write_spec(repo, "shop.yaml", base_data())
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    return repo


def test_python_specs_on_each_side_see_their_own_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (repo / "helpers.py").write_text("MAX = 2\n")
    (repo / "spec.py").write_text(
        "import sys, pathlib, yaml\n"
        "sys.path.insert(0, str(pathlib.Path(__file__).parent))\n"
        "from helpers import MAX\n"
        "data = yaml.safe_load(open('shop.yaml'))\n"  # relative to the working directory, on purpose
        "data['services'][0]['autoscaling']['max_replicas'] = MAX\n"
        "stack = data\n"
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "python spec")
    (repo / "helpers.py").write_text("MAX = 4\n")
    monkeypatch.chdir(repo)
    r = run("diff", "spec.py", "--base-ref", "main", "-f", "json", "--exit-code")
    assert r.code == 1, r.stderr
    doc = json.loads(r.stdout)
    chat = next(s for s in doc["services"] if s["name"] == "chat")
    assert chat["replicas"] == {"before": {"min": 0, "max": 2}, "after": {"min": 0, "max": 4}}
    assert not (repo / "__pycache__").exists() or _git(repo, "status", "--porcelain", "--ignored") == "!! __pycache__/"


def test_base_ref_ignores_export_attributes_and_keeps_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (repo / "stacks").mkdir()
    write_spec(repo / "stacks", "shop.yaml", base_data())
    (repo / ".gitattributes").write_text("stacks/ export-ignore\n")
    (repo / "abs-link").symlink_to("/etc/hostname")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "attrs")
    monkeypatch.chdir(repo / "stacks")
    r = run("diff", "shop.yaml", "--base-ref", "main", "-f", "json", "--exit-code")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["base"]["source"] == "main:stacks/shop.yaml"


def test_base_path_follows_a_moved_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (repo / "prod").mkdir()
    _git(repo, "mv", "shop.yaml", "prod/shop.yaml")
    monkeypatch.chdir(repo)
    moved = json.loads(run("diff", "prod/shop.yaml", "--base-ref", "main", "--base-path", "shop.yaml", "-f", "json").stdout)
    assert not moved["changed"] and moved["base"]["source"] == "main:shop.yaml"
    assert json.loads(run("diff", "prod/shop.yaml", "--base-ref", "main", "-f", "json").stdout)["base"]["exists"] is False


def test_base_ref_edge_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (repo / "stacks").mkdir()
    data = base_data()
    write_spec(repo / "stacks", "v1.yaml", data)
    data["services"][0]["autoscaling"]["max_replicas"] = 4
    write_spec(repo / "stacks", "v2.yaml", data)
    (repo / "prod.yaml").symlink_to("stacks/v1.yaml")
    (repo / "svc").mkdir()
    (repo / "svc" / "README.md").write_text("a folder that gains a stack.py\n")
    (repo / "loud.py").write_text(
        "import os, yaml\nos.system('echo from-a-subprocess')\nprint('from python')\n"
        "stack = yaml.safe_load(open('shop.yaml'))\n"
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "edge cases")
    monkeypatch.chdir(repo)
    # A tracked symlink is compared as the link it is: retargeting it is a change.
    (repo / "prod.yaml").unlink()
    (repo / "prod.yaml").symlink_to("stacks/v2.yaml")
    doc = json.loads(run("diff", "prod.yaml", "--base-ref", "main", "-f", "json").stdout)
    assert doc["base"]["source"] == "main:prod.yaml" and doc["summary"]["replace"] == 1
    # A folder that had no stack at the base: a new stack, with the reason, not an error.
    (repo / "svc" / "stack.yaml").write_text((repo / "shop.yaml").read_text())
    r = run("diff", "svc", "--base-ref", "main", "-f", "json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["base"]["exists"] is False and "no stack.py or stack.yaml" in doc["base"]["errors"][0]
    # What a Python spec prints, on either side and at any level, stays out of the JSON.
    r = run("diff", "loud.py", "--base-ref", "main", "-f", "json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["changed"] is False


def test_an_absolute_pythonpath_into_the_repo_points_the_base_at_its_own_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (repo / "lib").mkdir()
    (repo / "lib" / "knobs.py").write_text("MAX = 2\n")
    (repo / "spec.py").write_text(
        "import yaml, knobs\nstack = yaml.safe_load(open('shop.yaml'))\nstack['services'][0]['autoscaling']['max_replicas'] = knobs.MAX\n"
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "knobs")
    (repo / "lib" / "knobs.py").write_text("MAX = 4\n")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PYTHONPATH", str(repo / "lib"))
    import sys as _sys

    monkeypatch.syspath_prepend(str(repo / "lib"))  # the head, in this process, sees the working tree's
    _sys.modules.pop("knobs", None)
    doc = json.loads(run("diff", "spec.py", "--base-ref", "main", "-f", "json").stdout)
    chat = next(s for s in doc["services"] if s["name"] == "chat")
    assert chat["replicas"] == {"before": {"min": 0, "max": 2}, "after": {"min": 0, "max": 4}}

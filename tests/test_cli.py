"""The CLI end to end, in real subprocesses: exit codes, messages, no tracebacks, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.util import BLUEPRINTS, REPO, spec


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "stackdef.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def write_yaml(tmp_path: Path, data: object, name: str = "stack.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_validate_blueprint_ok() -> None:
    proc = run("validate", BLUEPRINTS["reference-kind"])
    assert proc.returncode == 0, proc.stderr
    assert "valid (stack 'reference', 2 services, target kind)" in proc.stdout


def test_validate_reports_each_problem_and_exits_1(tmp_path: Path) -> None:
    d = spec()
    d["services"][0]["autoscaling"]["min_replicas"] = 9
    d["services"][1]["max_ongoing_requests"] = 0
    f = write_yaml(tmp_path, d)
    proc = run("validate", str(f))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"{f}: services[0].autoscaling: min_replicas 9 > max_replicas 4 (set max_replicas ≥ 9, or lower min_replicas)",
        f"{f}: services[1].max_ongoing_requests: input should be greater than or equal to 1, got 0 "
        "(see `stackdef schema` for the allowed values)",
    ]


def test_validate_json_format(tmp_path: Path) -> None:
    d = spec()
    d["services"][0]["engine"]["dtype"] = "int3"
    proc = run("validate", str(write_yaml(tmp_path, d)), "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["valid"] is False
    assert doc["errors"][0]["path"] == "services[0].engine.dtype"
    ok = run("validate", BLUEPRINTS["reference-eks"], "--format", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["valid"] is True


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: demo\nservices: [\n  - a\n")
    proc = run("validate", str(f))
    assert proc.returncode == 1
    # libyaml's wording; the location is what matters.
    assert proc.stderr.startswith(f"{f}:3:3: invalid YAML: did not find expected node content")


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    f = tmp_path / "dup.yaml"
    f.write_text("name: a\nname: b\n")
    proc = run("validate", str(f))
    assert proc.returncode == 1
    assert "duplicate key 'name'" in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("validate", str(tmp_path / "missing.yaml")).returncode == 2
    proc = run("validate", "not a spec")
    assert proc.returncode == 2 and "use path/spec.yaml" in proc.stderr
    assert run("plan", BLUEPRINTS["reference-kind"], "--format", "xml").returncode == 2
    assert run("frobnicate").returncode == 2


def test_python_spec_errors_are_one_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.py"
    f.write_text("x = 1\nraise RuntimeError('boom')\n")
    proc = run("validate", str(f))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{f}:2: importing the file failed: RuntimeError: boom (fix the Python error)"
    g = tmp_path / "invalid.py"
    g.write_text(
        "from stackdef.spec import Stack, KindTarget\n"
        "stack = Stack(name='x', target=KindTarget(type='kind'), services=[])\n"
    )
    proc = run("validate", str(g))
    assert proc.returncode == 1
    assert "services: list should have at least 1 item after validation" in proc.stderr


def test_module_attr_form() -> None:
    proc = run("validate", "stackdef.blueprints.reference.stack_eks:stack")
    assert proc.returncode == 0, proc.stderr
    assert "target eks" in proc.stdout


def test_plan_json_document() -> None:
    proc = run("plan", BLUEPRINTS["reference-eks"], "--format", "json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["stack"] == "reference"
    assert plan["target"] == {"type": "eks", "region": "us-east-1"}
    assert isinstance(plan["warnings"], list)
    for r in plan["resources"]:
        assert {"component", "name", "namespace"} <= set(r)
        assert ("kind" in r) != ("type" in r)
    kinds = {(r["component"], r.get("kind") or r["type"]) for r in plan["resources"]}
    assert ("chat", "RayService") in kinds and ("kuberay-operator", "helm-chart") in kinds
    chat = plan["services"][0]
    assert chat["gpu"] == {"type": "L4", "per_replica": 1}
    assert chat["replicas"] == {"min": 0, "max": 4, "initial": 0}
    # Placed by instance type (set on every node, whatever provisioned it): the L4 family, cheapest first.
    assert chat["workers"]["node_selector"] == {}
    assert chat["workers"]["instance_types"][:3] == ["g6.xlarge", "g6.2xlarge", "g6.4xlarge"]
    assert "g6.12xlarge" in chat["workers"]["instance_types"]
    cost = plan["cost"]
    assert {"baseline_monthly_usd", "ceiling_monthly_usd"} <= set(cost)
    (chat_cost, _) = cost["services"]
    assert (chat_cost["instance_type"], chat_cost["gpus_per_replica"], chat_cost["max_replicas"]) == ("g6.xlarge", 1, 4)


def test_plan_markdown_and_table() -> None:
    md = run("plan", BLUEPRINTS["reference-eks"], "--format", "markdown")
    assert md.returncode == 0
    assert md.stdout.startswith("### stackdef plan: `reference` on eks (us-east-1)")
    assert "| `chat` | llm-ray | `Qwen/Qwen2.5-7B-Instruct` | 0–4 | 1× L4 |" in md.stdout
    table = run("plan", BLUEPRINTS["reference-kind"])
    assert table.returncode == 0
    assert "llm-cpu" in table.stdout and "Qwen/Qwen2.5-0.5B-Instruct" in table.stdout


def test_render_writes_one_file_per_component(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run("render", BLUEPRINTS["reference-kind"], "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [
        ".stackdef-render",
        "00-namespace.yaml",
        "10-kuberay-operator.yaml",
        "20-chat.yaml",
        "30-sentiment.yaml",
        "40-data.yaml",
        "50-feast-online.yaml",
        "60-feast-registry.yaml",
        "70-feast-server.yaml",
        "README.md",
        "operators/kuberay-operator.values.yaml",
    ]
    docs = list(yaml.safe_load_all((out / "30-sentiment.yaml").read_text()))
    # The RayService's Service is KubeRay's (spec.serveService), so it is not a separate object.
    assert [d["kind"] for d in docs] == ["ConfigMap", "RayService", "NetworkPolicy"]
    values = (out / "operators/kuberay-operator.values.yaml").read_text()
    assert "helm upgrade --install kuberay-operator kuberay-operator" in values and "--version 1.7.0" in values
    # Rendering again replaces the folder (it carries stackdef's marker).
    assert run("render", BLUEPRINTS["reference-eks"], "-o", str(out)).returncode == 0
    assert "rayproject/ray-llm" in (out / "20-chat.yaml").read_text()


def test_render_failure_writes_nothing(tmp_path: Path) -> None:
    d = spec()
    d["services"][0]["accelerator"]["type"] = "nope"
    out = tmp_path / "out"
    proc = run("render", str(write_yaml(tmp_path, d)), "-o", str(out))
    assert proc.returncode == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.yaml"]


def test_render_refuses_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run("render", BLUEPRINTS["reference-kind"], "-o", str(out))
    assert proc.returncode == 2
    assert "was not rendered by stackdef" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_schema_is_json_schema() -> None:
    proc = run("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["title"] == "Stack"
    assert {"LLMService", "ModelService", "KindTarget", "EksTarget"} <= set(schema["$defs"])
    assert schema["$defs"]["LLMService"]["additionalProperties"] is False


@pytest.mark.parametrize("fmt", ["json", "markdown", "table"])
def test_plan_is_byte_identical_across_runs(fmt: str) -> None:
    a = run("plan", BLUEPRINTS["reference-eks"], "--format", fmt)
    b = run("plan", BLUEPRINTS["reference-eks"], "--format", fmt)
    assert a.returncode == 0 and a.stdout == b.stdout


def test_offline_commands_import_neither_pulumi_nor_ray(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from stackdef.cli import app\n"
        "for args in (['validate', sys.argv[1]], ['plan', sys.argv[1], '-f', 'json'], ['render', sys.argv[1], '-o', sys.argv[2]], ['schema'],\n"
        "             ['diff', sys.argv[1], sys.argv[1], '-f', 'markdown'], ['graph', sys.argv[1]]):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (args, e.code)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes', 'ray', 'vllm'))\n"
        "print('HEAVY', bad, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, BLUEPRINTS["reference-eks"], str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_cost_command_formats() -> None:
    proc = run("cost", BLUEPRINTS["reference-eks"], "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["cost"]["ceiling_monthly_usd"] == 3282.68
    chat = doc["sizing"]["chat"]
    # Every term of the memory model, and the load a replica holds.
    assert {"usable_gib", "weights_gib", "activation_gib", "non_torch_gib", "cuda_graphs_gib", "kv_cache_gib"} <= set(chat)
    assert chat["kv_cache_gib"] == round(
        chat["usable_gib"] - chat["weights_gib"] - chat["activation_gib"] - chat["non_torch_gib"] - chat["cuda_graphs_gib"], 2
    ) or abs(chat["kv_cache_gib"] - (chat["usable_gib"] - chat["weights_gib"] - chat["activation_gib"] - chat["non_torch_gib"] - chat["cuda_graphs_gib"])) < 0.02
    assert chat["kv_tokens"] > 0 and chat["max_concurrency"] > 1
    md = run("cost", BLUEPRINTS["reference-eks"], "--format", "markdown")
    # Baseline of a scale-to-zero service: its head's share of a CPU node, labelled as such.
    assert "| `chat` | g6.xlarge | 1× L4 | 0–4 | $0.8048 | $195.21 (head + volume) | $2,545.22 |" in md.stdout
    assert f"| `chat` | 1× L4 | {chat['usable_gib']:.2f} | {chat['weights_gib']:.2f} |" in md.stdout
    table = run("cost", BLUEPRINTS["reference-eks"])
    assert "GPU memory per GPU" in table.stdout and "$3,282.68" in table.stdout


def test_validate_reports_sizing_and_budget_errors(tmp_path: Path) -> None:
    d = spec()
    d["services"][0]["engine"] = {"max_model_len": 32768, "gpu_memory_utilization": 0.75}
    d["budget"] = {"monthly_usd": 100}
    proc = run("validate", str(write_yaml(tmp_path, d)))
    assert proc.returncode == 1
    assert (
        "services[0].accelerator: Qwen2.5-7B-Instruct does not fit: per GPU of 1× L4 (TP 1, PP 1): 16.5 GiB usable = weights 14.2"
        in proc.stderr
    ), proc.stderr
    assert "under one 32768-token request" in proc.stderr

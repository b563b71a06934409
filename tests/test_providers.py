"""Provider registry, declared capabilities, and the deploy commands' pre-flight paths.

The CLI runs in real subprocesses with a controlled PATH: without `pulumi`
(or `kind` for the kind target) the commands must stop with one line naming
the tool, before touching anything. The kind provider's cluster logic runs
against a recording fake `kind` executable on PATH.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from stackdef.providers.base import Features

from stackdef import providers, registry
from stackdef.errors import MissingToolError, UnsupportedError, UsageError
from stackdef.spec import ExistingTarget, KindTarget
from tests.util import BLUEPRINTS, REPO, spec


def test_unknown_target_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'nomad' is not a valid target among \[kind, existing, eks, gke, aks\]"):
        providers.plan("nomad")


def test_unsupported_features_are_declared_as_data_with_reasons() -> None:
    feats = {p.name: p.features for p in registry.TARGETS}
    assert feats["kind"].names_unsupported() == ["gpus", "rwx_storage", "scale_to_zero"]
    assert "CPU profile" in feats["kind"].reason("gpus")
    assert feats["existing"].names_unsupported() == ["create_cluster"]
    for cloud in ("eks", "gke", "aks"):
        assert feats[cloud].names_unsupported() == ["create_cluster", "deploy"]
        assert "comes in a later stackdef release" in feats[cloud].reason("deploy")
        with pytest.raises(UnsupportedError, match="comes in a later stackdef release"):
            providers.connector(cloud).preflight()
    with pytest.raises(ValueError, match="unknown feature"):
        Features({"teleport": "no"})


def _bin(tmp_path: Path, name: str, script: str) -> None:
    p = tmp_path / "bin" / name
    p.parent.mkdir(exist_ok=True)
    p.write_text("#!/bin/sh\n" + script)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # PATH holds only the fakes we put there plus the folder of this Python.
    path = os.pathsep.join([str(tmp_path / "bin"), str(Path(sys.executable).parent)])
    full = {"PATH": path, "HOME": str(tmp_path), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "stackdef.cli", *args], cwd=REPO, env=full, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.parametrize("action", ["up", "preview", "destroy"])
def test_missing_pulumi_is_one_line_and_exit_2(tmp_path: Path, action: str) -> None:
    assert not (Path(sys.executable).parent / "pulumi").exists()
    proc = cli(tmp_path, action, BLUEPRINTS["reference-kind"], "--stack", "dev")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"stackdef: `stackdef {action}` needs the `pulumi` CLI, which is not on PATH "
        "(install it: https://www.pulumi.com/docs/iac/download-install/)"
    ]
    assert not (tmp_path / ".stackdef").exists()


def test_missing_kind_is_named_for_the_kind_target(tmp_path: Path) -> None:
    _bin(tmp_path, "pulumi", "echo 'pulumi must not be run by the pre-flight' >&2; exit 99\n")
    proc = cli(tmp_path, "up", BLUEPRINTS["reference-kind"], "--stack", "dev")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "stackdef: the kind target needs the `kind` CLI, which is not on PATH (install it: "
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation (kind also needs Docker or Podman))"
    ]


def test_cloud_targets_refuse_up_before_looking_for_tools(tmp_path: Path) -> None:
    proc = cli(tmp_path, "up", BLUEPRINTS["reference-eks"], "--stack", "dev")
    assert proc.returncode == 2
    assert "`stackdef up` on target eks: creating eks clusters comes in a later stackdef release" in proc.stderr
    assert "pulumi" not in proc.stderr.split("release")[0]


def test_invalid_spec_is_reported_before_tools(tmp_path: Path) -> None:
    d = spec()
    d["services"][0]["autoscaling"]["min_replicas"] = 7
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    proc = cli(tmp_path, "up", str(f), "--stack", "dev")
    assert proc.returncode == 1
    assert "services[0].autoscaling: min_replicas 7 > max_replicas 4" in proc.stderr


def test_local_backend_needs_a_passphrase(tmp_path: Path) -> None:
    _bin(tmp_path, "pulumi", "exit 99\n")
    _bin(tmp_path, "kind", "exit 99\n")
    proc = cli(tmp_path, "preview", BLUEPRINTS["reference-kind"], "--stack", "dev")
    assert proc.returncode == 2
    assert "set PULUMI_CONFIG_PASSPHRASE" in proc.stderr


def test_existing_target_needs_its_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        providers.connector("existing").connect(ExistingTarget(type="existing", kubeconfig=str(tmp_path / "nope")), create=True)
    cfg = tmp_path / "kubeconfig"
    cfg.write_text("apiVersion: v1\nkind: Config\n")
    conn = providers.connector("existing").connect(ExistingTarget(type="existing", kubeconfig=str(cfg), context="prod"), create=False)
    assert conn.kubeconfig == cfg.read_text() and conn.context == "prod"


FAKE_KIND = """\
echo "$@" >> "$KIND_LOG"
case "$1 $2" in
  "get clusters") cat "$KIND_CLUSTERS" 2>/dev/null || true ;;
  "create cluster") cat > "$KIND_CONFIG_SEEN"; echo "$4" >> "$KIND_CLUSTERS" ;;
  "get kubeconfig") echo "apiVersion: v1"; echo "kind: Config"; echo "current-context: kind-$4" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""


def test_kind_provider_creates_then_reuses_the_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _bin(tmp_path, "kind", FAKE_KIND)
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    for var, name in (("KIND_LOG", "log"), ("KIND_CLUSTERS", "clusters"), ("KIND_CONFIG_SEEN", "config")):
        monkeypatch.setenv(var, str(tmp_path / name))
    kind = providers.connector("kind")
    target = KindTarget(type="kind", cluster_name="dev")
    with pytest.raises(UsageError, match="kind cluster 'dev' does not exist"):
        kind.connect(target, create=False)
    conn = kind.connect(target, create=True)
    assert conn.context == "kind-dev" and "current-context: kind-dev" in (conn.kubeconfig or "")
    log = (tmp_path / "log").read_text().splitlines()
    assert log[-2].startswith(f"create cluster --name dev --image {target.node_image} --wait 180s --config -")
    assert "sha256:" in target.node_image
    assert "stackdef.dev/profile: cpu" in (tmp_path / "config").read_text()
    kind.connect(target, create=True)  # reuse: no second create
    assert sum(line.startswith("create") for line in (tmp_path / "log").read_text().splitlines()) == 1


def test_kind_failure_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _bin(tmp_path, "kind", "echo 'ERROR: failed to create cluster: docker not running' >&2; exit 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    with pytest.raises(UsageError, match=r"`kind get clusters` failed: ERROR: failed to create cluster: docker not running"):
        providers.connector("kind").connect(KindTarget(type="kind"), create=True)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="`kind` CLI"):
        providers.connector("kind").preflight()

"""kind: a local cluster in containers. CPU profile only; costs nothing.

`up` creates the cluster (or reuses one of the same name) through the kind
CLI with the pinned node image and returns its kubeconfig; the stack itself
is compiled with the CPU profile (see README "kind CPU profile").
"""

from __future__ import annotations

import subprocess
from typing import Any

from providers.base import Capabilities, ClusterConnection, NodePlacement
from stackdef.errors import UsageError, require_tool

KIND_INSTALL = "https://kind.sigs.k8s.io/docs/user/quick-start/#installation (kind also needs Docker or Podman)"

# Node label marking the CPU profile, so workloads and people can tell.
_CLUSTER_CONFIG = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  labels:
    stackdef.dev/profile: cpu
"""


def _kind(*args: str, stdin: str | None = None, timeout: int = 600) -> str:
    exe = require_tool("kind", "the kind target", KIND_INSTALL)
    try:
        proc = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UsageError(f"`kind {' '.join(args)}` did not finish within {timeout} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UsageError(f"`kind {' '.join(args)}` failed: {tail[0]}")
    return proc.stdout


class KindProvider:
    name = "kind"
    capabilities = Capabilities(
        gpus=False,
        create_cluster=True,
        rwx_storage=False,
        scale_to_zero=False,
        notes=(
            "LLM services run the CPU profile: a plain vLLM CPU Deployment with a small model, one replica",
            "kind's local-path storage is ReadWriteOnce only",
        ),
    )

    def gpu_placement(self, target: Any, gpu: str) -> NodePlacement:
        raise ValueError("kind has no GPUs (stackdef compiles the CPU profile for kind)")

    def fixed_costs(self, cpu_instance: Any) -> tuple[tuple[str, float], ...]:
        return ()

    def preflight(self) -> None:
        require_tool("kind", "the kind target", KIND_INSTALL)

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        name = target.cluster_name
        clusters = _kind("get", "clusters").split()
        if name not in clusters:
            if not create:
                raise UsageError(f"kind cluster {name!r} does not exist (run `stackdef up` to create it)")
            _kind("create", "cluster", "--name", name, "--image", target.node_image, "--wait", "180s", "--config", "-", stdin=_CLUSTER_CONFIG)
        kubeconfig = _kind("get", "kubeconfig", "--name", name)
        return ClusterConnection(kubeconfig=kubeconfig, context=f"kind-{name}", description=f"kind cluster {name!r}")

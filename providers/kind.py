"""kind: a local cluster in containers. CPU profile only; costs nothing.

`up` creates the cluster (or reuses one of the same name) through the kind
CLI with the pinned node image and returns its kubeconfig; the stack itself
is compiled with the CPU profile (see README "kind CPU profile"), because the
plan declares no GPUs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from stackdef.providers.base import (
    ClusterConnection,
    ClusterNotFound,
    Features,
    StorageClassChoice,
    StorageDefaults,
    TargetPlan,
)

from stackdef.errors import UsageError, require_tool
from stackdef.quantity import parse_quantity
from stackdef.spec.base import DNS1123_LABEL, _Base, check_image
from stackdef.versions import KIND_NODE_IMAGE

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


class KindTarget(_Base):
    """A local kind cluster: CPU profile, no GPUs, cost 0."""

    type: Literal["kind"] = Field(description="Discriminator: a local kind cluster.")
    cluster_name: str = Field(
        "stackdef", pattern=DNS1123_LABEL, max_length=40, description="kind cluster name."
    )
    node_image: str = Field(
        KIND_NODE_IMAGE, description="kind node image, pinned by digest (kind v0.32.0 default)."
    )

    @field_validator("node_image")
    @classmethod
    def check_image_pinned(cls, v: str) -> str:
        return check_image(v)


class KindPlan(TargetPlan):
    name = "kind"
    spec = KindTarget
    features = Features(
        {
            "gpus": "kind runs in containers on this machine; LLM services run the CPU profile instead",
            "rwx_storage": "kind's local-path provisioner offers ReadWriteOnce volumes only",
            "scale_to_zero": "the CPU profile runs exactly one replica",
        }
    )
    notes = (
        "LLM services run the CPU profile: a plain vLLM CPU Deployment with a small model, one replica",
        "kind's local-path storage is ReadWriteOnce only",
    )
    #: kind's default class "standard" is the local-path provisioner: ReadWriteOnce only.
    storage = StorageDefaults(read_write_once=StorageClassChoice(None, builtin=True), read_write_many=None)
    gpu_node_start = ()  # the kind node is the laptop: nothing starts
    local = True


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


def _source_tree() -> Path | None:
    """The stackdef checkout this code runs from (its Dockerfile builds the runtime image), if any."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "Dockerfile").is_file() and (root / "pyproject.toml").is_file() else None


def _engine_answers(docker: str) -> bool:
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _tool(argv: list[str], timeout: int) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UsageError(f"`{' '.join(argv[:3])} ...` did not finish within {timeout} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UsageError(f"`{' '.join(argv[:3])} ...` failed: {tail[0]}")


def _run_json(argv: list[str], timeout: int = 60) -> Any | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None


def node_capacity(connection: ClusterConnection) -> tuple[float, float, str] | None:
    """(allocatable CPUs, GiB, where it was read) of the kind cluster's nodes.

    Asks the cluster (``kubectl get nodes``) when kubectl is installed, else
    the container engine kind runs on (``docker info`` / ``podman info``),
    whose CPUs and memory bound every kind node. None when neither answers.
    """
    kubectl = shutil.which("kubectl")
    if kubectl and connection.kubeconfig:
        with tempfile.TemporaryDirectory(prefix="stackdef-kube-") as tmp:
            path = os.path.join(tmp, "config")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as f:
                f.write(connection.kubeconfig)
            argv = [kubectl, "--kubeconfig", path, "get", "nodes", "-o", "json"]
            if connection.context:
                argv[3:3] = ["--context", connection.context]
            doc = _run_json(argv)
        if doc and doc.get("items"):
            try:
                cpu = sum(parse_quantity(n["status"]["allocatable"]["cpu"]) for n in doc["items"])
                mem = sum(parse_quantity(n["status"]["allocatable"]["memory"]) for n in doc["items"]) / 2**30
            except (KeyError, TypeError, ValueError):
                pass
            else:
                return cpu, mem, "node allocatable (kubectl)"
    for engine in ("docker", "podman"):
        exe = shutil.which(engine)
        if exe is None:
            continue
        info = _run_json([exe, "info", "--format", "{{json .}}" if engine == "docker" else "json"])
        if not info:
            continue
        host = info.get("host", info)
        cpus = host.get("NCPU", host.get("cpus"))
        mem = host.get("MemTotal", host.get("memTotal"))
        if isinstance(cpus, (int, float)) and isinstance(mem, (int, float)) and cpus > 0 and mem > 0:
            return float(cpus), mem / 2**30, f"{engine} info"
    return None


class KindConnector:
    #: What kind's own pods request (API server, etcd, controller manager,
    #: scheduler, CoreDNS ×2, kindnet, kube-proxy): about 0.95 CPU and 0.3 GiB.
    system_reserved = (1.0, 1.0)

    def preflight(self) -> None:
        require_tool("kind", "the kind target", KIND_INSTALL)

    def check_capacity(self, connection: ClusterConnection, requests: dict[str, Any]) -> str | None:
        """Stop before deploying a stack whose pods cannot all start on this kind cluster.

        Returns a note when the capacity could not be read (nothing stops then).
        """
        found = node_capacity(connection)
        if found is None:
            return "could not read the kind node's capacity (neither kubectl nor docker/podman answered); not checked"
        cpu, mem, where = found
        rc, rm = self.system_reserved
        need_cpu, need_mem = requests["cpu"] + rc, requests["memory_gib"] + rm
        if need_cpu > cpu + 1e-9 or need_mem > mem + 1e-9:
            raise UsageError(
                f"the kind cluster has {cpu:g} CPU / {mem:.1f} GiB ({where}), and the stack needs {need_cpu:g} CPU / "
                f"{need_mem:.1f} GiB at min replicas ({requests['cpu']:g} CPU / {requests['memory_gib']:g} GiB of pods "
                f"plus ~{rc:g} CPU / {rm:g} GiB for kind's own) (give Docker or Podman more CPUs and memory, or lower "
                "cpu_profile and resources in the spec; `stackdef plan` shows the requests)"
            )
        return None

    def connect(self, target: Any, *, create: bool) -> ClusterConnection:
        name = target.cluster_name
        clusters = _kind("get", "clusters").split()
        if name not in clusters:
            if not create:
                raise ClusterNotFound(f"kind cluster {name!r}", "run `stackdef up` to create it")
            _kind("create", "cluster", "--name", name, "--image", target.node_image, "--wait", "180s", "--config", "-", stdin=_CLUSTER_CONFIG)
        kubeconfig = _kind("get", "kubeconfig", "--name", name)
        return ClusterConnection(kubeconfig=kubeconfig, context=f"kind-{name}", description=f"kind cluster {name!r}")

    def provide_images(self, connection: ClusterConnection, target: Any, images: list[str]) -> list[str]:
        """Build each image from stackdef's Dockerfile and `kind load` it: a laptop has no registry to pull from."""
        if not images:
            return []
        context = _source_tree()
        docker = shutil.which("docker")
        if docker is None or context is None or not _engine_answers(docker):
            why = (
                "docker is not installed" if docker is None
                else "no Docker engine answers (`docker info` failed)" if context is not None
                else "stackdef is not running from a source checkout with its Dockerfile"
            )
            raise UsageError(
                f"the stack runs {', '.join(images)}, which kind cannot pull, and {why} "
                f"(build it where Docker runs — `docker build -t IMAGE .` in a stackdef checkout — then "
                f"`kind load docker-image IMAGE --name {target.cluster_name}`, and run `stackdef up` again)"
            )
        lines = []
        for image in images:
            _tool([docker, "build", "-t", image, str(context)], timeout=3600)
            _kind("load", "docker-image", image, "--name", target.cluster_name, timeout=1800)
            lines.append(f"built {image} and loaded it into kind cluster {target.cluster_name!r}")
        return lines

"""Run a compiled pod's containers here, in the order and under the rules the kubelet uses,
to test what stackdef compiles rather than a copy of it.

Each volume becomes a folder: a ConfigMap's data as files, a PersistentVolumeClaim a folder
shared by claim name across pods, an emptyDir a fresh folder. The absolute paths the manifests
mount at do not exist here, so every mount path is rewritten to its folder — in the container's
argv, its env values and the ConfigMap files it reads — as are the in-cluster addresses the test
maps (a Service's DNS name to a loopback port). Env comes from literal values and from
secretKeyRef / secretRef on the secrets the test gives. Init containers run first, one after the
other; one that exits non-zero fails the pod and the main containers never start.

What this does not do: images (the commands run with this test venv's Python, Feast and
stackdef: the packages the runtime image installs), users, resource limits, probes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PodRun:
    #: container name -> exit code, in the order they ran.
    exit_codes: dict[str, int] = field(default_factory=dict)
    output: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return bool(self.exit_codes) and all(c == 0 for c in self.exit_codes.values())


def _rewrite(text: str, subs: list[tuple[str, str]]) -> str:
    """Every mount path (or address) to its stand-in, in one pass: a replacement is never
    rewritten again (the stand-ins live under /tmp, itself a mount path)."""
    if not subs:
        return text
    table = dict(subs)
    keys = sorted(table, key=len, reverse=True)
    # A path matches at a path boundary only: "/tmp" in "/tmp/x", not in "/tmpfs".
    pattern = re.compile("(?<![\\w.-])(" + "|".join(re.escape(k) for k in keys) + ")(?![\\w.-])")
    return pattern.sub(lambda m: table[m.group(1)], text)


def run_pod(
    pod: dict[str, Any],
    *,
    workdir: Path,
    config_maps: dict[str, dict[str, str]],
    claims: dict[str, Path],
    secrets: dict[str, dict[str, str]] | None = None,
    addresses: dict[str, str] | None = None,
    paths: dict[str, Path] | None = None,
    timeout: int = 300,
) -> PodRun:
    """``paths``: mount paths that mean the same volume in every pod (a file's path Feast keeps in
    its registry was written by a pod that did not mount it)."""
    secrets = secrets or {}
    workdir.mkdir(parents=True, exist_ok=True)
    volumes: dict[str, Path] = {}
    pending_maps: dict[str, dict[str, str]] = {}
    for v in pod.get("volumes", []):
        name = v["name"]
        if "configMap" in v:
            folder = workdir / "configmaps" / name
            folder.mkdir(parents=True, exist_ok=True)
            pending_maps[name] = config_maps[v["configMap"]["name"]]
            volumes[name] = folder
        elif "persistentVolumeClaim" in v:
            volumes[name] = claims[v["persistentVolumeClaim"]["claimName"]]
            volumes[name].mkdir(parents=True, exist_ok=True)
        elif "emptyDir" in v:
            volumes[name] = workdir / "empty" / name
            volumes[name].mkdir(parents=True, exist_ok=True)
        else:
            raise ValueError(f"volume kind not supported here: {v}")
    run = PodRun()
    for c in [*pod.get("initContainers", []), *pod["containers"]]:
        mounts = sorted(((m["mountPath"], volumes[m["name"]]) for m in c.get("volumeMounts", [])), key=lambda x: -len(x[0]))
        subs = [(path, str(folder)) for path, folder in mounts] + [(k, str(v)) for k, v in (paths or {}).items()]
        subs += list((addresses or {}).items())
        for m in c.get("volumeMounts", []):
            if m["name"] in pending_maps:
                for fname, text in pending_maps[m["name"]].items():
                    (volumes[m["name"]] / fname).write_text(_rewrite(text, subs), encoding="utf-8")
        env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]), "LANG": "C.UTF-8"}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = _rewrite(e["value"], subs)
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = secrets[ref["name"]][ref["key"]]
        for src in c.get("envFrom", []):
            env.update(secrets[src["secretRef"]["name"]])
        argv = [_rewrite(a, subs) for a in c["command"] + c.get("args", [])]
        proc = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, timeout=timeout)
        run.exit_codes[c["name"]] = proc.returncode
        run.output[c["name"]] = proc.stdout + proc.stderr
        if proc.returncode != 0:
            break  # an init container that fails stops the pod; a failed main container ends it
    return run


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]

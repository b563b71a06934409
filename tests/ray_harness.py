"""Run a Ray Serve config on a real, private, local Ray (CPU) and query it over HTTP.

Usage::

    from tests.ray_harness import serve_running, ServeHarness

    with serve_running(cfg) as base_url:            # cfg: ServeDeploySchema dict
        urllib.request.urlopen(base_url + "/echo")   # http://127.0.0.1:<free port>

    with ServeHarness(cfg, env={"X": "1"}, timeout=120) as h:   # richer handle
        h.url, h.startup_s, h.pids(), h.peak_rss_bytes, h.log_tail()
    assert h.leftover_pids == []

How it works
------------
* The parent (pytest) never imports ``ray``. It starts a fresh
  ``python tests/ray_harness.py --runner SPEC`` subprocess in its own session
  (process group) with ``cwd`` = a new temp dir and a unique marker variable
  ``STACKDEF_RAY_HARNESS_ID=<uuid>`` in its environment, which every Ray process
  it spawns (gcs_server, raylet, agents, workers, Serve replicas) inherits.
* The runner does ``ray.init(address="local", num_cpus=.., include_dashboard=False,
  _temp_dir=<temp dir>)`` -- a brand-new single-node cluster that never attaches
  to another one (``RAY_ADDRESS`` is scrubbed) -- then does exactly what
  ``serve run config.yaml`` does in Ray 2.56: ``serve_start(http_options,
  grpc_options, controller_options)`` + ``client.deploy_apps(ServeDeploySchema)``,
  and writes ``serve.status()`` to ``status.json`` every 0.5 s until told to stop.
* ``http_options.host``/``port`` are forced to ``127.0.0.1`` and a free port.
* Local ``runtime_env.working_dir`` paths (which ``ServeDeploySchema`` rejects:
  "runtime_envs in the Serve config support only remote URIs") are zipped into
  the temp dir and rewritten to ``file:///.../<name>-<sha>.zip`` -- a remote-URI
  protocol Ray accepts -- so the config shape is otherwise unchanged.
* Ready = every application ``RUNNING`` and the proxy's ``/-/routes`` lists every
  ``route_prefix``. ``DEPLOY_FAILED``/``UNHEALTHY``, runner death or timeout
  raise :class:`HarnessError` with the runner log tail.
* Stop: SIGTERM to the runner (its handler runs ``serve.shutdown()`` +
  ``ray.shutdown()``), then SIGKILL for the process group and for every process
  still carrying the marker (found via ``/proc/*/environ``), then the temp dir is
  removed. Only processes of this run are ever signalled. The runner also has
  ``PR_SET_PDEATHSIG`` so it shuts Ray down if the test process dies.
* A sampler thread records the peak summed RSS and PSS of the marked processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import fnmatch
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MARKER_VAR = "STACKDEF_RAY_HARNESS_ID"
_THIS = Path(__file__).resolve()

# Environment for every Ray process of a harness run (callers' ``env`` wins).
DEFAULT_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage-stats network calls
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "RAY_prestart_worker_first_driver": "0",  # no num_cpus idle workers at start (2 cores)
    "RAY_DEDUP_LOGS": "0",
    "PYTHONUNBUFFERED": "1",
}


class HarnessError(RuntimeError):
    """Ray Serve did not come up (or went down); message carries status + log tail."""


# --------------------------------------------------------------------------- utils


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host`` (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_request(
    url: str, payload: Any = None, *, method: str | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """Tiny stdlib HTTP client: returns ``(status, parsed JSON or text)``; never raises on 4xx/5xx."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    text = body.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _read_proc(pid: int, name: str) -> bytes | None:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:  # gone, or not ours to read
        return None


def marked_pids(marker: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries ``MARKER_VAR=marker``."""
    needle = f"{MARKER_VAR}={marker}".encode()
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        env = _read_proc(pid, "environ")
        if not env or needle not in env.split(b"\0"):
            continue
        stat = _read_proc(pid, "stat")
        if stat and stat.rsplit(b")", 1)[-1].split()[0] == b"Z":
            continue  # zombie: already dead, just not reaped
        found.append(pid)
    return sorted(found)


def _mem_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS falls back to RSS."""
    rss = pss = 0
    status = _read_proc(pid, "status")
    if status:
        for line in status.splitlines():
            if line.startswith(b"VmRSS:"):
                rss = int(line.split()[1])
    rollup = _read_proc(pid, "smaps_rollup")
    if rollup:
        for line in rollup.splitlines():
            if line.startswith(b"Pss:"):
                pss = int(line.split()[1])
    return rss, pss or rss


def _zip_dir(src: Path, dest_dir: Path, excludes: list[str]) -> Path:
    """Zip ``src`` under a single top-level dir (what Ray unwraps for remote URIs)."""
    files = []
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src).as_posix()
        parts = rel.split("/")
        if "__pycache__" in parts or ".git" in parts or rel.endswith(".pyc"):
            continue
        if any(fnmatch.fnmatch(rel, pat.strip("/")) or fnmatch.fnmatch(p.name, pat) for pat in excludes):
            continue
        if p.is_file():
            files.append((p, rel))
    digest = hashlib.sha256()
    for p, rel in files:
        digest.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    top = src.name or "pkg"
    out = dest_dir / f"{top}-{digest.hexdigest()[:12]}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, rel in files:
            zf.write(p, f"{top}/{rel}")
    return out


def localize_working_dirs(cfg: dict, pkg_dir: Path, base_dir: Path | None = None) -> dict:
    """Copy of ``cfg`` with local ``runtime_env.working_dir`` paths turned into
    ``file://`` zip URIs (apps and ``args.llm_configs[]``). URIs are left alone;
    relative paths resolve against ``base_dir`` (default: cwd)."""
    cfg = json.loads(json.dumps(cfg))
    base = Path(base_dir or os.getcwd())

    def fix(renv: Any) -> None:
        if not isinstance(renv, dict):
            return
        wd = renv.get("working_dir")
        if isinstance(wd, str) and "://" not in wd:
            path = (base / wd).resolve()
            if not path.is_dir():
                raise HarnessError(f"runtime_env.working_dir {wd!r} is not a directory ({path})")
            pkg_dir.mkdir(parents=True, exist_ok=True)
            renv["working_dir"] = _zip_dir(path, pkg_dir, list(renv.get("excludes") or [])).as_uri()
        for mod in renv.get("py_modules") or []:
            if isinstance(mod, str) and "://" not in mod:
                raise HarnessError(f"local py_modules entry {mod!r} is not supported by the harness")

    for app in cfg.get("applications") or []:
        fix(app.get("runtime_env"))
        args = app.get("args")
        if isinstance(args, dict):
            for llm in args.get("llm_configs") or []:
                if isinstance(llm, dict):
                    fix(llm.get("runtime_env"))
    return cfg


# --------------------------------------------------------------------------- harness


class ServeHarness:
    """A Serve config running on a private local Ray in a subprocess.

    Context manager; ``start()``/``stop()`` may also be called directly.

    Args:
        serve_config: a ServeDeploySchema-shaped dict (``applications: [...]``).
        env: extra environment for the runner and so for every Ray process
            (e.g. ``RAY_SERVE_*`` flags); applied on top of ``DEFAULT_RAY_ENV``.
        timeout: seconds to wait for all apps RUNNING + routes served.
        num_cpus: logical CPUs Ray advertises (replicas default to 1 CPU each,
            so this may exceed the physical core count).
        object_store_mb: object store size (kept small; Serve barely uses it).
        base_dir: directory relative ``working_dir`` paths resolve against
            (default: the repo root, i.e. the parent of ``tests/``).
        keep_temp: keep the temp dir (Ray logs, status.json) after stop.
    """

    def __init__(
        self,
        serve_config: dict,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120.0,
        num_cpus: int = 4,
        object_store_mb: int = 128,
        base_dir: str | os.PathLike | None = None,
        keep_temp: bool = False,
    ) -> None:
        self.serve_config = serve_config
        self.env = dict(env or {})
        self.timeout = timeout
        self.num_cpus = num_cpus
        self.object_store_mb = object_store_mb
        self.base_dir = Path(base_dir) if base_dir else _THIS.parent.parent
        self.keep_temp = keep_temp or os.environ.get("STACKDEF_KEEP_RAY_TEMP") == "1"

        self.marker = uuid.uuid4().hex
        self.port: int | None = None
        self.url: str | None = None
        self.temp_dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None  # Popen -> ready
        self.shutdown_s: float | None = None
        self.peak_rss_bytes = 0  # max over samples of the summed RSS of all run processes
        self.peak_pss_bytes = 0  # same with PSS (shared pages split; closer to real use)
        self.peak_nprocs = 0
        self.leftover_pids: list[int] = []
        self.last_status: dict = {}
        self._stop_sampler = threading.Event()
        self._sampler: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> ServeHarness:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> str:
        if self.proc is not None:
            raise HarnessError("already started")
        # Short path: Ray puts unix sockets under it (108-byte sun_path limit).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))
        try:
            return self._start()
        except BaseException:
            if self.proc is not None:
                self.stop()
            elif not self.keep_temp:
                shutil.rmtree(self.temp_dir, ignore_errors=True)
            raise

    def _start(self) -> str:
        assert self.temp_dir is not None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = localize_working_dirs(self.serve_config, self.temp_dir / "pkgs", self.base_dir)
        http = dict(cfg.get("http_options") or {})
        http.update(host="127.0.0.1", port=self.port)
        cfg["http_options"] = http
        spec = {
            "config": cfg,
            "num_cpus": self.num_cpus,
            "object_store_bytes": self.object_store_mb * 1024 * 1024,
            "ray_temp_dir": str(self.temp_dir / "ray"),
            "status_path": str(self.temp_dir / "status.json"),
        }
        spec_path = self.temp_dir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env.update(DEFAULT_RAY_ENV)
        env.update(self.env)
        env[MARKER_VAR] = self.marker
        self._log = open(self.temp_dir / "runner.log", "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(_THIS), "--runner", str(spec_path)],
            cwd=self.temp_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self._wait_ready(t0)
        self.startup_s = time.monotonic() - t0
        return self.url

    def _wait_ready(self, t0: float) -> None:
        assert self.proc and self.temp_dir
        apps = self.serve_config.get("applications") or []
        names = [a.get("name", "default") for a in apps]
        prefixes = [a.get("route_prefix", "/") for a in apps if a.get("route_prefix", "/") is not None]
        deadline = t0 + self.timeout
        status_path = self.temp_dir / "status.json"
        while True:
            if self.proc.poll() is not None:
                raise HarnessError(f"runner exited with code {self.proc.returncode}\n{self.log_tail()}")
            st = _load_json(status_path)
            if st:
                self.last_status = st
                if st.get("error"):
                    raise HarnessError(f"runner failed: {st['error']}\n{self.log_tail()}")
                apps_st = st.get("applications", {})
                bad = {n: a for n, a in apps_st.items() if a.get("status") in ("DEPLOY_FAILED", "UNHEALTHY")}
                if bad:
                    raise HarnessError(f"application(s) failed: {json.dumps(bad, indent=1)}\n{self.log_tail()}")
                if all(apps_st.get(n, {}).get("status") == "RUNNING" for n in names) and self._routes_ready(prefixes):
                    return
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"not ready after {self.timeout:.0f}s; last status: {json.dumps(self.last_status)}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.25)

    def _routes_ready(self, prefixes: list[str]) -> bool:
        try:
            status, routes = http_request(f"{self.url}/-/routes", timeout=5)
        except OSError:
            return False
        return status == 200 and isinstance(routes, dict) and all(p in routes for p in prefixes)

    def stop(self, grace_s: float = 30.0) -> list[int]:
        """Stop everything of this run; returns (and stores) PIDs that survived SIGKILL."""
        if self.proc is None:
            return self.leftover_pids
        t0 = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session only
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        deadline = time.monotonic() + 15
        while True:
            left = marked_pids(self.marker)
            if not left or time.monotonic() > deadline:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        self.leftover_pids = left
        self._stop_sampler.set()
        if self._sampler:
            self._sampler.join(5)
        self.shutdown_s = time.monotonic() - t0
        self._log.close()
        if self.temp_dir and not self.keep_temp:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.proc = None
        return left

    # -- introspection -------------------------------------------------------------

    def pids(self) -> list[int]:
        """Live processes of this run (runner + all Ray processes)."""
        return marked_pids(self.marker)

    def log_tail(self, n: int = 60) -> str:
        """Last ``n`` lines of the runner log plus the tails of Ray's error logs."""
        if not self.temp_dir:
            return ""
        out = []
        log = self.temp_dir / "runner.log"
        if log.exists():
            out.append("--- runner.log ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-n:]))
        logs = self.temp_dir / "ray" / "session_latest" / "logs"
        for p in sorted(logs.glob("serve/*.log"))[-4:] + sorted(logs.glob("*.err"))[-4:]:
            lines = p.read_text(errors="replace").splitlines()[-15:]
            if lines:
                out.append(f"--- {p.relative_to(logs)} ---\n" + "\n".join(lines))
        return "\n".join(out)

    def _sample(self) -> None:
        while not self._stop_sampler.is_set():
            rss = pss = 0
            pids = marked_pids(self.marker)
            for pid in pids:
                r, p = _mem_kib(pid)
                rss, pss = rss + r, pss + p
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss * 1024)
            self.peak_pss_bytes = max(self.peak_pss_bytes, pss * 1024)
            self.peak_nprocs = max(self.peak_nprocs, len(pids))
            self._stop_sampler.wait(0.5)


@contextlib.contextmanager
def serve_running(
    serve_config: dict, *, env: dict[str, str] | None = None, timeout: float = 120.0, **kwargs: Any
) -> Iterator[str]:
    """Run ``serve_config`` on a private local Ray; yield the base URL
    (``http://127.0.0.1:<port>``). Raises :class:`HarnessError` if it does not
    come up, or if processes of the run survive shutdown. ``kwargs`` go to
    :class:`ServeHarness`."""
    h = ServeHarness(serve_config, env=env, timeout=timeout, **kwargs)
    h.start()
    try:
        yield h.url  # type: ignore[misc]
    finally:
        left = h.stop()
    if left:
        raise HarnessError(f"processes of the Ray run survived shutdown: {left}")


def _load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- runner
# Runs in the subprocess: ``python tests/ray_harness.py --runner SPEC``.


def _runner(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    status_path = Path(spec["status_path"])

    def write_status(doc: dict) -> None:
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(status_path)

    stop = threading.Event()
    parent = os.getppid()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with contextlib.suppress(Exception):  # die with the test process (Linux)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    import ray
    from ray import serve
    from ray.serve._private import api as _private_api
    from ray.serve.config import gRPCOptions
    from ray.serve.schema import ServeDeploySchema

    t0 = time.monotonic()
    try:
        config = ServeDeploySchema.model_validate(spec["config"])
        ray.init(
            address="local",  # always a new cluster, never an existing one
            num_cpus=spec["num_cpus"],
            num_gpus=0,
            include_dashboard=False,
            object_store_memory=spec["object_store_bytes"],
            _temp_dir=spec["ray_temp_dir"],
            namespace="serve",  # SERVE_NAMESPACE, as `serve run` uses
        )
        # ray.init installs its own C++ SIGTERM handler (it just logs and dies);
        # take SIGTERM/SIGINT back so stop() gets serve.shutdown() + ray.shutdown().
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print(f"[runner] ray.init done in {time.monotonic() - t0:.1f}s", flush=True)
        # Same as `serve run config.yaml` (ray/serve/scripts.py, Ray 2.56).
        http_options = {**config.http_options.model_dump(), "location": config.proxy_location.value}
        client = _private_api.serve_start(
            http_options=http_options,
            grpc_options=gRPCOptions(**config.grpc_options.model_dump()),
            controller_options=config.controller_options,
        )
        client.deploy_apps(config, _blocking=False)
        print(f"[runner] config submitted at {time.monotonic() - t0:.1f}s", flush=True)
    except Exception as e:  # noqa: BLE001 - reported to the parent verbatim
        import traceback

        traceback.print_exc()
        write_status({"error": f"{type(e).__name__}: {e}"})
        _runner_shutdown()
        return 1

    last = None
    while not stop.is_set():
        if os.getppid() != parent:
            break  # parent gone (belt and braces next to PDEATHSIG)
        try:
            st = serve.status()
            doc = {
                "applications": {
                    name: {
                        "status": str(getattr(a.status, "value", a.status)),
                        "message": a.message,
                        "deployments": {
                            d: {"status": str(getattr(ds.status, "value", ds.status)), "message": ds.message}
                            for d, ds in a.deployments.items()
                        },
                    }
                    for name, a in st.applications.items()
                },
                "elapsed_s": round(time.monotonic() - t0, 2),
                # The node's dashboard agent, which serves the health endpoints KubeRay's probes use.
                "agent_port": getattr(ray._private.worker.global_worker.node, "dashboard_agent_listen_port", None),
            }
        except Exception as e:  # noqa: BLE001
            doc = {"applications": {}, "status_error": repr(e)}
        key = json.dumps(doc.get("applications"), sort_keys=True)
        if key != last:
            write_status(doc)
            print(f"[runner] {time.monotonic() - t0:.1f}s status: {key}", flush=True)
            last = key
        stop.wait(0.5)
    _runner_shutdown()
    return 0


def _runner_shutdown() -> None:
    import ray
    from ray import serve

    for fn in (serve.shutdown, ray.shutdown):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            print(f"[runner] {fn.__module__}.{fn.__name__} failed: {e!r}", flush=True)
    print("[runner] shut down", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--runner":
        sys.exit(_runner(sys.argv[2]))
    print(f"usage: {sys.argv[0]} --runner SPEC.json", file=sys.stderr)
    sys.exit(2)

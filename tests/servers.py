"""Real servers the tests start on a free loopback port and stop by PID: redis-server and the
Prometheus Pushgateway (Debian packages; `make test` installs them). A missing binary fails the
test that needs it, with the command that installs it: never a silent skip."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PUSHGATEWAY = Path(shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[int, str]]:
    """(port, password) of a private redis-server with a random password."""
    if not Path(REDIS_SERVER).is_file():
        pytest.fail("redis-server is not installed (apt-get install redis-server; `make test` installs it)", pytrace=False)
    import redis

    password = "pw-" + secrets.token_urlsafe(18)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "redis.log", "wb")
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", password, "--dir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}: {(workdir / 'redis.log').read_text()[-2000:]}")
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer PING within 15s") from None
                time.sleep(0.05)
        client.close()
        yield port, password
    finally:
        _stop(proc)
        log.close()


@contextmanager
def pushgateway() -> Iterator[str]:
    """The URL of a private Pushgateway keeping its metrics in memory."""
    if not PUSHGATEWAY.is_file():
        pytest.fail(f"{PUSHGATEWAY} is not installed (apt-get install prometheus-pushgateway; `make test` installs it)", pytrace=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # An empty persistence file keeps metrics in memory (Debian's default writes to /var/lib).
    proc = subprocess.Popen(
        [str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the pushgateway did not start (exit {proc.poll()})")
                time.sleep(0.05)
        yield url
    finally:
        _stop(proc)


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        return resp.read().decode()

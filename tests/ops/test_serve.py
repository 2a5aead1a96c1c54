"""``siaga serve`` under each of its HTTP servers: several worker processes answer, and
``/metrics`` adds up the requests of all of them (each process writes its samples to
SIAGA_METRICS_DIR, which has to be set before prometheus_client is first imported), even of
processes killed outright since, which are replaced."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.demo.test_demo import free_port

TOKEN = "metrics-token-for-the-test"


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    # A new connection each time, so the server's processes share the requests out.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "siaga serve ended before it answered"
        try:
            if _get(port, "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("siaga serve did not answer /healthz")


def _worker_pids(server: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(server):
            children.add(int(stat.parent.name))
    return children


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_every_worker_answers_and_metrics_add_up(server: str) -> None:
    home = Path(tempfile.mkdtemp(prefix=f"siaga-serve-{server}-"))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA_", "DJANGO_"))}
    metrics = home / "metrics-in-memory"
    environment |= {
        "SIAGA_HOME": str(home),
        "SIAGA_METRICS_TOKEN": TOKEN,
        "SIAGA_METRICS_DIR": str(metrics),
    }
    siaga = [sys.executable, "-m", "siaga.cli"]
    subprocess.run([*siaga, "migrate", "-v", "0"], env=environment, check=True, timeout=600)
    port = free_port()
    process = subprocess.Popen(
        [*siaga, "serve", "--server", server, "--port", str(port), "--workers", "2"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait(port, process)
        deadline = time.monotonic() + 60
        while len(_worker_pids(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_worker_pids(process.pid)) == 2
        sent = 60
        for _ in range(sent):
            assert _get(port, "/healthz")[0] == 200
        # Every web process that answered is killed outright and replaced: what /metrics
        # counts now can only come from the files the dead processes left.
        victims = _worker_pids(process.pid)
        for victim in victims:
            os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            pids = _worker_pids(process.pid)
            if len(pids) == 2 and not pids & victims:
                break
            time.sleep(0.3)
        assert len(_worker_pids(process.pid)) == 2
        assert not _worker_pids(process.pid) & victims
        status, body = _get(port, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        counted = re.findall(
            r'^siaga_http_request_duration_seconds_count\{method="GET",route="healthz",'
            r'status="2xx"\} ([0-9.e+]+)$',
            body,
            re.MULTILINE,
        )
        # The _wait polls count too: at least the 60 sent, though no living process saw them.
        assert len(counted) == 1
        assert float(counted[0]) >= sent
        assert list(metrics.glob("histogram_*.db"))
        assert _get(port, "/healthz")[0] == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode is not None

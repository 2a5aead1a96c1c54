"""``siaga worker`` outlives its database and whatever its jobs raise.

The PostgreSQL test starts a private cluster (initdb, pg_ctl) so that it can restart it under a
running worker without disturbing the suite's own server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from siaga.core import jobs
from siaga.core.models import TaskRun, WorkerHeartbeat
from siaga.core.supervisor import Backoff, Supervisor
from siaga.core.tasks import record_task_run

PG_BIN = Path("/usr/lib/postgresql")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(PG_BIN.glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    pytest.fail(f"{name} (PostgreSQL's server tools) is needed to restart a private cluster")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Cluster:
    """A throw-away PostgreSQL server in a temporary directory, run as ``postgres`` when the
    tests run as root (initdb refuses root)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="siaga-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(_pg_tool("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")

    def start(self) -> None:
        options = f"-c port={self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
        options += f"-c unix_socket_directories={self.root}"
        # A log file, so that the server holds none of our pipes open.
        log = str(self.root / "server.log")
        self._run(_pg_tool("pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(_pg_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/siaga"

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            return list(connection.execute(query, params).fetchall())


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    server = Cluster()
    server.init()
    server.start()
    try:
        port = str(server.port)
        createdb = [_pg_tool("createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", "siaga"]
        subprocess.run(
            [*server.as_user, *createdb],
            check=True,
            timeout=60,
        )
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(server.root, ignore_errors=True)


def _siaga(url: str, home: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    environment = dict(
        os.environ,
        SIAGA_DATABASE_URL=url,
        SIAGA_HOME=str(home),
        SIAGA_WORKER_HEARTBEAT_SECONDS="1",
        SIAGA_WORKER_BACKOFF_MAX_SECONDS="1",
        SIAGA_BACKUP_EVERY_HOURS="0",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "siaga.cli", *args],
        env=environment,
        text=True,
        **kwargs,
    )


def _enqueue(url: str, home: Path, prefix: str, count: int) -> None:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'siaga.settings'; "
        "django.setup(); from siaga.core.tasks import record_task_run; "
        f"[record_task_run.enqueue('{prefix}-%d' % n) for n in range({count})]"
    )
    process = _siaga(url, home, "shell", "-c", code)
    assert process.wait(timeout=120) == 0


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _labels(server: Cluster) -> list[str]:
    try:
        return [row[0] for row in server.sql("SELECT label FROM core_taskrun")]
    except psycopg.OperationalError:
        return []


@pytest.mark.postgres
def test_the_worker_outlives_a_postgresql_restart(cluster: Cluster, tmp_path: Path) -> None:
    migrate = _siaga(cluster.url, tmp_path, "migrate", "-v", "0")
    assert migrate.wait(timeout=300) == 0
    worker = _siaga(
        cluster.url,
        tmp_path,
        "worker",
        "--interval",
        "0.1",
        "--name",
        "survivor",
        stderr=subprocess.PIPE,
    )
    try:
        _enqueue(cluster.url, tmp_path, "before", 10)
        _wait_for(lambda: len(_labels(cluster)) == 10, 120, "the first ten tasks")
        cluster.stop()
        time.sleep(3)  # the worker's loops meet a dead server for a while
        assert worker.poll() is None, "the worker died with the database"
        cluster.start()
        _enqueue(cluster.url, tmp_path, "after", 10)
        _wait_for(lambda: len(_labels(cluster)) == 20, 120, "the tasks queued after the restart")
        restarted = timezone.now()
        _wait_for(
            lambda: (
                cluster.sql(
                    "SELECT count(*) FROM core_workerheartbeat WHERE name = %s AND beat_at > %s",
                    "survivor",
                    restarted,
                )[0][0]
                == 1
            ),
            30,
            "a heartbeat after the restart",
        )
        assert worker.poll() is None
        labels = _labels(cluster)
        assert sorted(labels) == sorted(
            [f"before-{n}" for n in range(10)] + [f"after-{n}" for n in range(10)]
        )
        statuses = cluster.sql(
            "SELECT status, count(*) FROM django_tasks_database_dbtaskresult GROUP BY status"
        )
        assert statuses == [("SUCCESSFUL", 20)]
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=60)
    assert worker.returncode == 0, errors
    # What it said while the server was away: the failure, once with its trace, then retries.
    assert "tasks failed; again in" in errors
    ((pid, stopped, tasks),) = cluster.sql(
        "SELECT pid, stopped_at IS NOT NULL, parts->'tasks' FROM core_workerheartbeat "
        "WHERE name = 'survivor'"
    )
    assert (pid, stopped) == (worker.pid, True)
    # The task loop failed while the server was away and says it is well again.
    assert (tasks["ok"], tasks["failures"], tasks["error"]) == (True, 0, "")


# --- in-process: the supervisor's rules --------------------------------------------------------


class Flaky:
    """A job that fails its first ``failures`` calls, then counts successes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise ConnectionError(f"broker away ({self.calls})")


def test_backoff_doubles_up_to_its_maximum_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=3)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    backoff.reset()
    assert backoff.next() == 0.5


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_and_a_dying_loop_do_not_end_the_worker(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.WORKER_HEARTBEAT_SECONDS = 1
    settings.WORKER_BACKOFF_MAX_SECONDS = 0.2
    job = Flaky(failures=3)
    loop_runs = Flaky(failures=2)

    def loop(stop: threading.Event) -> None:
        loop_runs()
        stop.wait()

    monkeypatch.setattr(jobs, "periodic_jobs", lambda: [jobs.Periodic("probe.job", "x", 0.1)])
    monkeypatch.setattr(jobs.Periodic, "call", lambda self: job())
    monkeypatch.setattr(jobs, "worker_loops", lambda: [jobs.Loop("probe.loop", "x")])
    monkeypatch.setattr(jobs.Loop, "target", lambda self: loop)
    supervisor = Supervisor(name="in-process", interval=0.05)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        _wait_for(lambda: job.calls >= 6, 30, "the job to run on after its failures")
        _wait_for(lambda: loop_runs.calls == 3, 30, "the loop to be restarted twice")
        _wait_for(
            lambda: WorkerHeartbeat.objects.filter(
                name="in-process", parts__has_key="probe.job"
            ).exists(),
            30,
            "a heartbeat with the job's state",
        )
    finally:
        supervisor.request_stop()
        runner.join(timeout=30)
    assert not runner.is_alive()
    beat = WorkerHeartbeat.objects.get(name="in-process")
    assert beat.stopped_at is not None
    assert beat.parts["probe.job"]["ok"] is True
    assert beat.parts["probe.loop"]["ok"] is True
    assert beat.parts["probe.loop"]["failures"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_reported_in_the_heartbeat(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.WORKER_HEARTBEAT_SECONDS = 1
    job = Flaky(failures=10**6)
    monkeypatch.setattr(jobs, "periodic_jobs", lambda: [jobs.Periodic("probe.job", "x", 0.1)])
    monkeypatch.setattr(jobs.Periodic, "call", lambda self: job())
    monkeypatch.setattr(jobs, "worker_loops", lambda: [])
    supervisor = Supervisor(name="failing", interval=0.05)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        _wait_for(
            lambda: (
                (beat := WorkerHeartbeat.objects.filter(name="failing").first()) is not None
                and beat.parts.get("probe.job", {}).get("failures", 0) >= 3
            ),
            30,
            "three failures in the heartbeat",
        )
    finally:
        supervisor.request_stop()
        runner.join(timeout=30)
    part = WorkerHeartbeat.objects.get(name="failing").parts["probe.job"]
    assert part["ok"] is False
    assert part["error"].startswith("ConnectionError: broker away")


@pytest.mark.django_db(transaction=True)
def test_batch_runs_the_tasks_then_the_batch_jobs_once(settings: Any) -> None:
    record_task_run.enqueue("batch-1")
    record_task_run.enqueue("batch-2")
    Supervisor(batch=True, interval=0).run()
    assert sorted(TaskRun.objects.values_list("label", flat=True)) == ["batch-1", "batch-2"]
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    # A batch run writes no heartbeat: it is not a worker that /readyz should wait for.
    assert not WorkerHeartbeat.objects.exists()


def test_every_declared_job_and_loop_names_a_callable() -> None:
    from django.utils.module_loading import import_string

    names = [job.name for job in jobs.periodic_jobs()] + [loop.name for loop in jobs.worker_loops()]
    assert names == [
        "core.backup",
        "ledger.checkpoint",
        "incidents.escalate",
        "alarms.remind",
        "access.sweep",
        "ops.watch",
        "safety.sweep",
        "weather.poll",
        "hazards.watch",
        "hazards.rollup",
        "privacy.purge",
        "notify.delivery",
        "hazards.mqtt",
    ]
    for job in jobs.periodic_jobs():
        assert callable(import_string(job.func))
        assert job.seconds > 0
    for loop in jobs.worker_loops():
        assert callable(loop.target())
        if loop.once:
            assert callable(import_string(loop.once))


def test_siaga_worker_refuses_an_unknown_skip() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "siaga.cli", "worker", "--skip", "nothing.here"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    assert "no loop or job named nothing.here" in process.stderr

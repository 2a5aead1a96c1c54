"""Background work: tasks run in ``siaga worker`` processes, each exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from siaga.core.models import TaskRun
from siaga.core.tasks import record_task_run


def worker_environment() -> dict[str, str]:
    """The worker processes must use the test database, not the configured one."""
    settings_dict = connection.settings_dict
    environment = dict(os.environ)
    if connection.vendor == "postgresql":
        user = settings_dict["USER"] or ""
        password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
        host = settings_dict["HOST"] or "127.0.0.1"
        port = settings_dict["PORT"] or 5432
        environment["SIAGA_DATABASE_URL"] = (
            f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"
        )
    else:
        environment["SIAGA_DATABASE_URL"] = f"sqlite:///{settings_dict['NAME']}"
    return environment


def start_worker(batch: bool = True) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "siaga.cli", "worker", "--interval", "0.1", "--verbosity", "0"]
    if batch:
        args.append("--batch")
    return subprocess.Popen(args, env=worker_environment())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_the_same_task_twice() -> None:
    labels = [f"task-{n}" for n in range(200)]
    for label in labels:
        record_task_run.enqueue(label, hold_seconds=0.02)
    workers = [start_worker(), start_worker()]
    for worker in workers:
        assert worker.wait(timeout=240) == 0
    runs = Counter(TaskRun.objects.values_list("label", flat=True))
    assert set(runs) == set(labels)
    assert max(runs.values()) == 1
    # Both workers took part: the queue was really shared, not drained by one.
    assert TaskRun.objects.values("worker_pid").distinct().count() == 2
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_no_task() -> None:
    for n in range(50):
        record_task_run.enqueue(f"job-{n}")
    victim = start_worker(batch=False)
    time.sleep(1.5)
    victim.kill()
    victim.wait(timeout=30)
    # What the killed worker claimed but did not finish stays visible as RUNNING; what it
    # never claimed is still READY. A new worker finishes the READY ones.
    survivor = start_worker()
    assert survivor.wait(timeout=240) == 0
    statuses = Counter(DBTaskResult.objects.values_list("status", flat=True))
    assert statuses["READY"] == 0
    assert statuses["SUCCESSFUL"] + statuses["RUNNING"] == 50
    assert statuses["RUNNING"] <= 1
    assert TaskRun.objects.count() >= statuses["SUCCESSFUL"]

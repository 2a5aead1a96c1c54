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


def start_worker(batch: bool = True, requeue_after: float = 900) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "siaga.cli",
        "worker",
        "--interval",
        "0.1",
        "--verbosity",
        "0",
        "--requeue-after",
        str(requeue_after),
    ]
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
    labels = [f"job-{n}" for n in range(20)]
    for label in labels:
        record_task_run.enqueue(label, hold_seconds=0.5)
    victim = start_worker(batch=False)
    deadline = time.monotonic() + 60
    while not DBTaskResult.objects.filter(status="RUNNING").exists():
        assert time.monotonic() < deadline, "the worker never started a task"
        time.sleep(0.05)
    victim.kill()  # in the middle of a task: SIGKILL leaves no chance to clean up
    victim.wait(timeout=30)
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 1
    survivor = start_worker(batch=True, requeue_after=0)
    assert survivor.wait(timeout=240) == 0
    statuses = Counter(DBTaskResult.objects.values_list("status", flat=True))
    assert statuses == {"SUCCESSFUL": 20}
    # At least once: the interrupted task ran again; no other task ran twice.
    runs = Counter(TaskRun.objects.values_list("label", flat=True))
    assert set(runs) == set(labels)
    assert sum(runs.values()) - len(labels) <= 1


@pytest.mark.django_db
def test_abandoned_tasks_are_requeued_after_the_grace_period() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from siaga.core.services import requeue_abandoned_tasks

    stale = record_task_run.enqueue("stale")
    fresh = record_task_run.enqueue("fresh")
    DBTaskResult.objects.filter(pk=stale.id).update(
        status="RUNNING", started_at=timezone.now() - timedelta(minutes=20)
    )
    DBTaskResult.objects.filter(pk=fresh.id).update(
        status="RUNNING", started_at=timezone.now() - timedelta(minutes=1)
    )
    assert requeue_abandoned_tasks(older_than=timedelta(minutes=15)) == 1
    assert DBTaskResult.objects.get(pk=stale.id).status == "READY"
    assert DBTaskResult.objects.get(pk=fresh.id).status == "RUNNING"

"""Background tasks of the core: a heartbeat that proves a worker is alive and runs tasks once."""

from __future__ import annotations

import os
import time

from django.tasks import task

from siaga.core.models import TaskRun


@task()
def record_task_run(label: str, hold_seconds: float = 0.0) -> int:
    """Record that a worker ran the task labelled ``label``; returns the row's id.

    A probe: it shows that workers run tasks, and (with ``hold_seconds`` to keep each busy)
    that several workers share one queue without running a task twice.
    """
    if hold_seconds:
        time.sleep(min(hold_seconds, 5.0))
    run = TaskRun.objects.create(label=label, worker_pid=os.getpid())
    return run.pk

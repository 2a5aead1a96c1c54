"""Use cases of the core: keeping the background queue whole when workers die."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult


def requeue_abandoned_tasks(*, older_than: timedelta) -> int:
    """Put tasks back in the queue that a worker claimed and never finished.

    A worker killed in the middle of a task leaves it RUNNING for ever; after ``older_than``
    (longer than any task runs) it is READY again and another worker takes it. Tasks therefore
    run at least once, which is why every task must be idempotent.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        return DBTaskResult.objects.filter(status="RUNNING", started_at__lt=cutoff).update(
            status="READY", started_at=None
        )

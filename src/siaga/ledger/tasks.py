from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.tasks import task

from siaga.ledger.services import checkpoint_if_due, make_checkpoint


@task()
def make_checkpoint_task() -> int | None:
    """Sign the current tree head (idempotent: one checkpoint per tree size)."""
    checkpoint = make_checkpoint()
    return checkpoint.size if checkpoint else None


def checkpoint_if_due_now() -> None:
    """The worker's periodic job: a checkpoint once SIAGA_LEDGER_CHECKPOINT_SECONDS have
    passed since the last and the ledger has grown."""
    checkpoint_if_due(timedelta(seconds=settings.LEDGER_CHECKPOINT_SECONDS))

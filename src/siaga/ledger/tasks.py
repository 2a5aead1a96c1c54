from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.tasks import task

from siaga.ledger.rollback import LedgerRolledBack, detect
from siaga.ledger.services import checkpoint_if_due, make_checkpoint


@task()
def make_checkpoint_task() -> int | None:
    """Sign the current tree head (idempotent: one checkpoint per tree size); none while the
    database is behind the kept checkpoint."""
    try:
        checkpoint = make_checkpoint()
    except LedgerRolledBack:
        return None
    return checkpoint.size if checkpoint else None


def checkpoint_if_due_now() -> None:
    """The worker's periodic job: looks for a database put back behind the checkpoint kept
    outside it (siaga.ledger.rollback), then signs a checkpoint once
    SIAGA_LEDGER_CHECKPOINT_SECONDS have passed since the last and the ledger has grown; none
    while the database is behind the kept checkpoint (its alarm is raised, an admin decides)."""
    if detect() is not None:  # behind the kept checkpoint: held until an admin decides
        return
    try:
        checkpoint_if_due(timedelta(seconds=settings.LEDGER_CHECKPOINT_SECONDS))
    except LedgerRolledBack:
        return

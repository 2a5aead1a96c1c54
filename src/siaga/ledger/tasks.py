from __future__ import annotations

from django.tasks import task

from siaga.ledger.rollback import LedgerRolledBack
from siaga.ledger.services import make_checkpoint


@task()
def make_checkpoint_task() -> int | None:
    """Sign the current tree head (idempotent: one checkpoint per tree size); none while the
    database is behind the kept checkpoint."""
    try:
        checkpoint = make_checkpoint()
    except LedgerRolledBack:
        return None
    return checkpoint.size if checkpoint else None

from __future__ import annotations

from django.tasks import task

from siaga.ledger.services import make_checkpoint


@task()
def make_checkpoint_task() -> int | None:
    """Sign the current tree head (idempotent: one checkpoint per tree size)."""
    checkpoint = make_checkpoint()
    return checkpoint.size if checkpoint else None

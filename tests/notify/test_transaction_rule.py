"""The outbox is transactional: notify runs in the transaction of the change it reports."""

from __future__ import annotations

import pytest

from siaga.accounts.models import User
from siaga.notify import services


def test_notify_refuses_to_run_outside_a_transaction() -> None:
    # No database access at all (no django_db mark): the refusal comes before any query,
    # as ledger.append's does, so nothing can be half-written.
    with pytest.raises(services.NotifyUsageError):
        services.notify_user(User(username="x"), kind="k", title="t", body="b", dedup_key="d")
    with pytest.raises(services.NotifyUsageError):
        services.notify_webhooks("16.08", kind="k", title="t", body="b", dedup_key="d")

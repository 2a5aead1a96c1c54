"""Use cases of notifications: write to the outbox, deliver it, manage endpoints and inboxes.

``notify_user`` and ``notify_webhooks`` write inside the caller's transaction, so a message
exists exactly when the change it reports was committed (the transactional outbox). A worker
claims due messages with a lease, sends them outside any transaction, and marks them only while
the lease is still its own: a worker killed mid-send loses nothing, and a receiver that
de-duplicates on the message id (``Idempotency-Key``) sees each message once.

Split by sub-domain; callers keep writing ``from siaga.notify import services; services.X``:

- ``outbox``: ``notify_user``, ``notify_webhooks`` (de-duplication, grouping);
- ``claiming``: leases, the per-endpoint concurrency limit, releasing leases at shutdown;
- ``circuits``: the per-endpoint circuit breaker;
- ``rendering``: the ``Outgoing`` snapshot in the recipient's language;
- ``sending`` and ``outcomes``: sending over the channels and recording how it went;
- ``endpoints`` and ``inbox``: a person's and a unit's endpoints, the in-app inbox.
"""

from __future__ import annotations

from siaga.notify.services import circuits
from siaga.notify.services.claiming import claim_due, in_flight, settle_and_claim
from siaga.notify.services.endpoints import (
    TELEGRAM_CHAT_ID_MAX,
    add_endpoint,
    normalize_address,
    remove_endpoint,
)
from siaga.notify.services.inbox import mark_all_read, mark_read
from siaga.notify.services.outbox import (
    NotifyUsageError,
    delivery_wanted,
    notify_user,
    notify_webhooks,
    region_and_ancestors,
    wake_delivery,
)
from siaga.notify.services.outcomes import (
    record_outcomes,
    release_leases,
    retry_delay,
    retry_message,
)
from siaga.notify.services.rendering import Outcome, default_worker_name
from siaga.notify.services.sending import deliver_due, send_all, send_one

__all__ = [
    "TELEGRAM_CHAT_ID_MAX",
    "NotifyUsageError",
    "Outcome",
    "add_endpoint",
    "circuits",
    "claim_due",
    "default_worker_name",
    "deliver_due",
    "delivery_wanted",
    "in_flight",
    "mark_all_read",
    "mark_read",
    "normalize_address",
    "notify_user",
    "notify_webhooks",
    "record_outcomes",
    "region_and_ancestors",
    "release_leases",
    "remove_endpoint",
    "retry_delay",
    "retry_message",
    "send_all",
    "send_one",
    "settle_and_claim",
    "wake_delivery",
]

"""Recording how sends went (sent, retried later, dead letter), and sending a dead letter again."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.core.errors import Conflict, NotFound, PermissionDenied
from siaga.notify.channels import LeaseRunOut, Outgoing
from siaga.notify.choices import MessageState
from siaga.notify.models import Endpoint, Message
from siaga.notify.services import circuits
from siaga.notify.services.outbox import wake_delivery
from siaga.notify.services.rendering import Outcome

logger = logging.getLogger("siaga.notify")


def retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, then between half and all of it."""
    ceiling = min(
        settings.NOTIFY_RETRY_MAX_SECONDS,
        settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def record_outcomes(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """Mark each sent, due again later, or dead — only where the lease is still ours."""
    with transaction.atomic():
        return _record(outcomes, timezone.now())


def _record(outcomes: Sequence[Outcome], now: datetime) -> dict[str, int]:
    tally = {"sent": 0, "retry": 0, "dead": 0, "lost": 0, "released": 0}
    not_sent = [o for o, error in outcomes if isinstance(error, LeaseRunOut)]
    if not_sent:
        tally["released"] = _release(not_sent, now)
        outcomes = [(o, e) for o, e in outcomes if not isinstance(e, LeaseRunOut)]
    # Each receiver's sends, in the order they finished, for its circuit breaker. A permanent
    # refusal (chat not found, a removed endpoint) says nothing about the receiver's health.
    health: dict[str, list[tuple[bool, str]]] = {}
    for outgoing, error in outcomes:
        if error is None or not error.permanent:
            health.setdefault(outgoing.delivery_key, []).append(
                (error is None, "" if error is None else error.reason)
            )
    circuits.record(health, now)
    # Successes in one statement per claim (one lease owner each): the common case is cheap.
    sent_by_owner: dict[str, list[Outgoing]] = {}
    for outgoing, error in outcomes:
        if error is None:
            sent_by_owner.setdefault(outgoing.lease_owner, []).append(outgoing)
    for owner, sent in sent_by_owner.items():
        done = Message.objects.filter(
            pk__in=[o.id for o in sent], state=MessageState.PENDING, lease_owner=owner
        ).update(
            state=MessageState.SENT,
            sent_at=now,
            lease_until=None,
            next_attempt_at=None,
            last_error="",
        )
        tally["sent"] += done
        tally["lost"] += len(sent) - done
        Endpoint.objects.filter(pk__in={o.endpoint_id for o in sent}).exclude(last_error="").update(
            last_error=""
        )
    for outgoing, error in outcomes:
        if error is None:
            continue
        mine = Message.objects.filter(
            pk=outgoing.id, state=MessageState.PENDING, lease_owner=outgoing.lease_owner
        )
        dead = error.permanent or outgoing.attempts >= settings.NOTIFY_MAX_ATTEMPTS
        if dead:
            done = mine.update(
                state=MessageState.DEAD,
                lease_until=None,
                next_attempt_at=None,
                last_error=error.reason,
            )
        else:
            delay = max(retry_delay(outgoing.attempts), error.retry_after or 0.0)
            # No answer after the request went out: the next send may be a repeat.
            repeat = {"possible_repeat": True} if error.maybe_received else {}
            done = mine.update(
                lease_until=None,
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=error.reason,
                **repeat,
            )
        if not done:
            tally["lost"] += 1
            continue
        Endpoint.objects.filter(pk=outgoing.endpoint_id).update(last_error=error.reason)
        if dead:
            tally["dead"] += 1
            logger.warning(
                "notify: message %s to %s is a dead letter after %d attempt(s): %s",
                outgoing.id,
                outgoing.channel,
                outgoing.attempts,
                error.reason,
            )
        else:
            tally["retry"] += 1
    return tally


def retry_message(message: Message, *, actor: User) -> Message:
    """A dead letter back to pending, to be delivered afresh (attempts start again)."""
    roots = scope_roots(actor, Action.MANAGE_MASTER_DATA)
    if roots is not None and not roots:
        raise PermissionDenied("forbidden", _("You may not manage notifications."))
    with transaction.atomic():
        if not Message.objects.outbox_managed_by(actor).filter(pk=message.pk).exists():
            raise NotFound(
                "message_not_found", _("No such message."), detail={"message": str(message.pk)}
            )
        locked = (
            Message.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=message.pk)
        )
        if locked.state == MessageState.PENDING:
            return locked  # retried already: the same outcome
        if locked.state != MessageState.DEAD:
            raise Conflict(
                "message_not_dead",
                _("Only a dead letter can be sent again."),
                detail={"state": locked.state},
            )
        if locked.endpoint is not None and not locked.endpoint.active:
            raise Conflict("endpoint_removed", _("The endpoint of this message was removed."))
        now = timezone.now()
        locked.state = MessageState.PENDING
        locked.attempts = 0
        locked.next_attempt_at = now
        locked.lease_until = None
        locked.lease_owner = ""
        locked.save(
            update_fields=[
                "state",
                "attempts",
                "next_attempt_at",
                "lease_until",
                "lease_owner",
                "updated_at",
            ]
        )
        logger.info("notify: %s sent dead letter %s back to the outbox", actor, locked.pk)
        transaction.on_commit(wake_delivery)
    return locked


def release_leases(batch: Sequence[Outgoing]) -> int:
    """Give back claimed messages that were never sent (a graceful stop): due again at once for
    any worker, their attempt not counted. Only leases still this worker's are touched."""
    if not batch:
        return 0
    with transaction.atomic():
        return _release(batch, timezone.now())


def _release(batch: Sequence[Outgoing], now: datetime) -> int:
    released = 0
    by_owner: dict[str, list[uuid.UUID]] = {}
    for message in batch:
        by_owner.setdefault(message.lease_owner, []).append(message.id)
    for owner, ids in by_owner.items():
        released += Message.objects.filter(
            pk__in=ids, state=MessageState.PENDING, lease_owner=owner
        ).update(
            lease_until=None,
            lease_owner="",
            next_attempt_at=now,
            attempts=F("attempts") - 1,
        )
    circuits.end_probes(m.id for m in batch)
    return released

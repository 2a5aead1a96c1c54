"""Use cases of notifications: write to the outbox, deliver it, manage endpoints and inboxes.

``notify_user`` and ``notify_webhooks`` write inside the caller's transaction, so a message
exists exactly when the change it reports was committed (the transactional outbox). A worker
claims due messages with a lease, sends them outside any transaction, and marks them only while
the lease is still its own: a worker killed mid-send loses nothing, and a receiver that
de-duplicates on the message id (``Idempotency-Key``) sees each message once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import os
import random
import secrets
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import AgencyUnit, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core import i18n
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.ids import uuid7
from siaga.ledger import services as ledger
from siaga.notify import channels
from siaga.notify.channels import DeliveryError, Outgoing, is_private_host
from siaga.notify.choices import PERSONAL_CHANNELS, Channel, EndpointChannel, MessageState
from siaga.notify.models import MAX_ENDPOINT_TIMEOUT, Endpoint, Message
from siaga.regions.codes import parse_region_code

logger = logging.getLogger("siaga.notify")

TELEGRAM_CHAT_ID_MAX = 2**63


class NotifyUsageError(RuntimeError):
    """A programming error: notify used in a way that would break the outbox's guarantees."""


# Set after a commit that wrote outbox messages: the delivery loop of this process starts at once.
delivery_wanted = threading.Event()


def wake_delivery() -> None:
    delivery_wanted.set()


# --- writing to the outbox --------------------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    kind: str
    title: str
    body: str
    text: dict[str, Any]
    url: str
    data: dict[str, Any]
    about_type: str
    about_id: str
    dedup_key: str
    group_key: str


def _content(
    *,
    kind: str,
    title: i18n.Text,
    body: i18n.Text,
    url: str,
    data: dict[str, Any] | None,
    dedup_key: str,
    group_key: str,
    about: tuple[str, str] | None,
) -> _Content:
    kind = str(kind)
    if not kind or len(kind) > 60:
        raise NotifyUsageError("kind must be 1 to 60 characters")
    dedup_key = str(dedup_key)
    if not dedup_key or len(dedup_key) > 255:
        raise NotifyUsageError("dedup_key must be 1 to 255 characters")
    group_key = str(group_key)
    if len(group_key) > 200:
        raise NotifyUsageError("group_key must be at most 200 characters")
    url = str(url)
    if url and (not url.startswith("/") or url.startswith("//") or len(url) > 500):
        raise NotifyUsageError("url must be site-relative (/…), at most 500 characters")
    # A tree is kept to render in each recipient's language; the stored title and body are
    # its rendering in the default language (what admins and searches see).
    text = (
        {"title": title, "body": body} if isinstance(title, dict) or isinstance(body, dict) else {}
    )
    if text:
        try:
            with translation.override(settings.LANGUAGE_CODE):
                title, body = i18n.render(title), i18n.render(body)
            json.dumps(text, allow_nan=False)
        except (KeyError, TypeError, ValueError) as exc:
            raise NotifyUsageError(f"title/body is not a text tree: {exc!r}") from None
    title = " ".join(str(title).split())
    if len(title) > 300:
        title = title[:299] + "…"
    about_type, about_id = ("", "") if about is None else (str(about[0]), str(about[1]))
    if len(about_type) > 60 or len(about_id) > 64:
        raise NotifyUsageError("about must be (type ≤ 60 characters, id ≤ 64 characters)")
    payload = dict(data or {})
    try:
        # Stored and sent as JSON: refuse what JSON cannot carry now, not in the worker.
        payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise NotifyUsageError(f"data is not JSON: {exc}") from None
    return _Content(
        kind=kind,
        title=title,
        body=str(body),
        text=text,
        url=url,
        data=payload,
        about_type=about_type,
        about_id=about_id,
        dedup_key=dedup_key,
        group_key=group_key,
    )


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise NotifyUsageError(
            "notify must run inside the transaction that makes the change it reports"
        )


@dataclass(frozen=True)
class _Destination:
    """Where one message goes: a person's inbox (no endpoint) or an endpoint."""

    user: User | None
    endpoint: Endpoint | None

    @property
    def channel(self) -> str:
        return self.endpoint.channel if self.endpoint is not None else Channel.INAPP

    @property
    def key(self) -> str:
        if self.endpoint is not None:
            return f"endpoint:{self.endpoint.pk}"
        assert self.user is not None
        return f"inapp:{self.user.pk}"

    def q(self) -> Q:
        if self.endpoint is not None:
            return Q(endpoint=self.endpoint)
        return Q(user=self.user, channel=Channel.INAPP)


def _key_of(message: Message) -> str:
    if message.endpoint_id is not None:
        return f"endpoint:{message.endpoint_id}"
    return f"inapp:{message.user_id}"


def _any_of(destinations: Sequence[_Destination]) -> Q:
    return reduce(operator.or_, (d.q() for d in destinations))


def _lock_groups(keys: Iterable[str], group_key: str) -> None:
    """Serialize writers of one group to one destination (PostgreSQL; SQLite is serial).

    Without it, two transactions could both find no message of the group and both start one.
    """
    if connection.vendor != "postgresql":
        return
    locks = sorted(  # one order for everyone: no deadlock between two such calls
        int.from_bytes(
            hashlib.blake2b(f"{key}|{group_key}".encode(), digest_size=8).digest(),
            "big",
            signed=True,
        )
        for key in keys
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [locks])


def _new_message(content: _Content, destination: _Destination, now: datetime) -> Message:
    message = Message(
        channel=destination.channel,
        endpoint=destination.endpoint,
        user=destination.user,
        kind=content.kind,
        title=content.title,
        body=content.body,
        text=content.text,
        url=content.url,
        data=content.data,
        about_type=content.about_type,
        about_id=content.about_id,
        dedup_key=content.dedup_key,
        group_key=content.group_key,
        created_at=now,
    )
    if destination.endpoint is None:
        message.state, message.sent_at = MessageState.SENT, now
    else:
        message.state, message.next_attempt_at = MessageState.PENDING, now
    return message


def _write(
    content: _Content, destinations: Sequence[_Destination], now: datetime
) -> dict[str, Message]:
    """New messages for destinations that have none with this dedup_key: merged into the open
    message of their group where there is one, else new (deferred to the window's end when the
    group was just delivered). A few queries for all destinations together."""
    window = timedelta(seconds=settings.NOTIFY_GROUP_WINDOW_SECONDS)
    heads: dict[str, Message] = {}
    if content.group_key and window:
        _lock_groups((d.key for d in destinations), content.group_key)
        candidates = (
            Message.objects.select_for_update()
            .filter(_any_of(destinations), group_key=content.group_key)
            .filter(
                # Not yet sent (due, deferred, waiting for a retry, or being sent now) …
                Q(state=MessageState.PENDING)
                # … or sent within the window …
                | (Q(state=MessageState.SENT, sent_at__gt=now - window) & ~Q(channel=Channel.INAPP))
                # … or, in the inbox, still unread and of this window.
                | Q(
                    state=MessageState.SENT,
                    channel=Channel.INAPP,
                    read_at__isnull=True,
                    created_at__gte=now - window,
                )
            )
            .order_by("created_at", "id")
        )
        for candidate in candidates:
            heads[_key_of(candidate)] = candidate  # the latest of each destination
    rows: list[Message] = []
    merged: list[uuid.UUID] = []
    for destination in destinations:
        row = _new_message(content, destination, now)
        head = heads.get(destination.key)
        if head is not None:
            in_flight = head.lease_until is not None and head.lease_until > now
            if head.state == MessageState.SENT and head.channel != Channel.INAPP:
                # At most one delivery per window: the rest wait for the window's end.
                assert head.sent_at is not None
                row.next_attempt_at = head.sent_at + window
            elif in_flight:
                row.next_attempt_at = now + window
            else:
                # Unread in the inbox, or not yet sent: that message carries this one too.
                row.state, row.grouped_into = MessageState.GROUPED, head
                row.next_attempt_at = row.sent_at = None
                merged.append(head.pk)
        rows.append(row)
    if merged:
        Message.objects.filter(pk__in=merged).update(
            count=F("count") + 1,
            kind=content.kind,
            title=content.title,
            body=content.body,
            text=content.text,
            url=content.url,
            data=content.data,
            about_type=content.about_type,
            about_id=content.about_id,
            updated_at=now,
        )
    Message.objects.bulk_create(rows)
    return {d.key: row for d, row in zip(destinations, rows, strict=True)}


def _place(content: _Content, destinations: Sequence[_Destination], now: datetime) -> list[Message]:
    """One message per destination: the existing one with this dedup_key, or a new one."""
    if not destinations:
        return []
    # The key inside each branch: each branch then reads one entry of a unique index.
    same_key = reduce(operator.or_, (d.q() & Q(dedup_key=content.dedup_key) for d in destinations))
    found = {_key_of(m): m for m in Message.objects.filter(same_key).order_by()}
    todo = [d for d in destinations if d.key not in found]
    if todo:
        try:
            with transaction.atomic():
                found.update(_write(content, todo, now))
        except IntegrityError:
            # A concurrent call with the same dedup_key won somewhere: settle each alone.
            for destination in todo:
                found[destination.key] = _place_one(content, destination, now)
    return [found[d.key] for d in destinations]


def _place_one(content: _Content, destination: _Destination, now: datetime) -> Message:
    def existing() -> Message | None:
        return Message.objects.filter(destination.q(), dedup_key=content.dedup_key).first()

    message = existing()
    if message is not None:
        return message
    try:
        with transaction.atomic():
            return _write(content, [destination], now)[destination.key]
    except IntegrityError:
        message = existing()
        if message is None:
            raise
        return message


def _personal_endpoints(user: User) -> list[Endpoint]:
    endpoints = list(
        Endpoint.objects.filter(user=user, active=True, channel__in=PERSONAL_CHANNELS).order_by(
            "created_at", "id"
        )
    )
    email = (user.email or "").strip()
    if (
        email
        and channels.email_configured()
        and not Endpoint.objects.filter(user=user, channel=Channel.EMAIL).exists()
    ):
        # Where e-mail can be sent, the account's address serves until the person sets
        # endpoints themselves; removing it (an inactive row stays) is how they opt out.
        try:
            with transaction.atomic():
                endpoints.append(
                    Endpoint.objects.create(user=user, channel=Channel.EMAIL, address=email)
                )
        except IntegrityError:
            endpoints.append(
                Endpoint.objects.get(user=user, channel=Channel.EMAIL, address=email, active=True)
            )
    return endpoints


def notify_user(
    user: User,
    *,
    kind: str,
    title: i18n.Text,
    body: i18n.Text,
    url: str = "",
    data: dict[str, Any] | None = None,
    dedup_key: str,
    group_key: str = "",
    about: tuple[str, str] | None = None,
) -> list[Message]:
    """Tell ``user``: one in-app message, and one outbox message per active endpoint of theirs.

    Runs inside the caller's transaction (and refuses to run outside one). Idempotent per
    destination on ``dedup_key``. Messages sharing ``group_key`` to one destination within
    SIAGA_NOTIFY_GROUP_WINDOW_SECONDS are merged: at most one delivery per window, carrying a
    count. A deactivated account is told nothing (returns ``[]``).
    """
    _require_transaction()
    content = _content(
        kind=kind,
        title=title,
        body=body,
        url=url,
        data=data,
        dedup_key=dedup_key,
        group_key=group_key,
        about=about,
    )
    if not user.is_active:
        return []
    destinations = [_Destination(user=user, endpoint=None)] + [
        _Destination(user=user, endpoint=e) for e in _personal_endpoints(user)
    ]
    messages = _place(content, destinations, timezone.now())
    transaction.on_commit(wake_delivery)
    return messages


def region_and_ancestors(region_code: str) -> list[str]:
    """``16.08.01`` → ``["16", "16.08", "16.08.01"]``: the regions whose units cover it."""
    parts = parse_region_code(region_code).split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def notify_webhooks(
    region_code: str,
    *,
    kind: str,
    title: i18n.Text,
    body: i18n.Text,
    url: str = "",
    data: dict[str, Any] | None = None,
    dedup_key: str,
    group_key: str = "",
    about: tuple[str, str] | None = None,
) -> list[Message]:
    """Like ``notify_user``, to every active webhook of a unit whose region covers
    ``region_code`` (a unit of 16 covers 16.08.01)."""
    _require_transaction()
    content = _content(
        kind=kind,
        title=title,
        body=body,
        url=url,
        data=data,
        dedup_key=dedup_key,
        group_key=group_key,
        about=about,
    )
    endpoints = Endpoint.objects.filter(
        channel=Channel.WEBHOOK,
        active=True,
        unit__region_id__in=region_and_ancestors(region_code),
    ).order_by("created_at", "id")
    destinations = [_Destination(user=None, endpoint=e) for e in endpoints]
    messages = _place(content, destinations, timezone.now())
    if messages:
        transaction.on_commit(wake_delivery)
    return messages


# --- delivering -------------------------------------------------------------------------------


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def _outgoing(message: Message) -> Outgoing:
    endpoint = message.endpoint
    assert endpoint is not None
    title, body = message.rendered()
    return Outgoing(
        id=message.id,
        endpoint_id=endpoint.pk,
        channel=message.channel,
        address=endpoint.address,
        secret=endpoint.secret,
        timeout=endpoint.timeout,
        endpoint_active=endpoint.active,
        kind=message.kind,
        title=title,
        body=body,
        url=message.url,
        data=message.data,
        about_type=message.about_type,
        about_id=message.about_id,
        count=message.count,
        created_at=message.created_at,
        attempts=message.attempts,
        lease_owner=message.lease_owner,
        language=message.language,
    )


Outcome = tuple[Outgoing, DeliveryError | None]


def _due(now: datetime) -> QuerySet[Message]:
    return Message.objects.filter(state=MessageState.PENDING, next_attempt_at__lte=now)


def _claim(now: datetime, *, limit: int, worker: str) -> list[Outgoing]:
    """The claim itself; runs inside a transaction."""
    owner = f"{worker or default_worker_name()}/{secrets.token_hex(4)}"
    lease_until = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    candidates = _due(now).order_by("next_attempt_at").values_list("pk", flat=True)
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    ids = list(candidates[:limit])
    if not ids:
        return []
    Message.objects.filter(pk__in=ids).update(
        lease_until=lease_until,
        lease_owner=owner,
        next_attempt_at=lease_until,
        attempts=F("attempts") + 1,
    )
    claimed = (
        Message.objects.filter(pk__in=ids)
        .select_related("endpoint", "user")
        .order_by("next_attempt_at", "created_at")
    )
    return [_outgoing(m) for m in claimed]


def claim_due(*, limit: int = 100, worker: str = "") -> list[Outgoing]:
    """Lease up to ``limit`` due messages to this worker, in a short transaction of their own.

    A lease moves ``next_attempt_at`` to its end: a message whose worker died is due again
    when the lease runs out, with no other query. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps
    concurrent workers apart; on SQLite the IMMEDIATE transaction does.
    """
    return settle_and_claim([], limit=limit, worker=worker)


def settle_and_claim(
    outcomes: Sequence[Outcome], *, limit: int, worker: str = ""
) -> list[Outgoing]:
    """Record finished sends and claim the next due messages, in one short transaction.

    One write transaction per round instead of two: on a busy SQLite database every write
    transaction waits for the one lock. An idle outbox costs a plain indexed read, no lock.
    """
    now = timezone.now()
    claim = limit > 0 and _due(now).exists()
    if not outcomes and not claim:
        return []
    with transaction.atomic():
        if outcomes:
            _record(outcomes, now)
        return _claim(now, limit=limit, worker=worker) if claim else []


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
    tally = {"sent": 0, "retry": 0, "dead": 0, "lost": 0}
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
            done = mine.update(
                lease_until=None,
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=error.reason,
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


def send_one(outgoing: Outgoing) -> Outcome:
    """Send one claimed message (no database access); the outcome, never an exception."""
    try:
        channels.send(outgoing)
    except DeliveryError as exc:
        return outgoing, exc
    except Exception as exc:  # a bug in a channel must cost one message, not the worker
        logger.exception("notify: sending message %s failed unexpectedly", outgoing.id)
        return outgoing, DeliveryError(f"unexpected error: {type(exc).__name__}: {exc}")
    return outgoing, None


def send_all(batch: Sequence[Outgoing]) -> list[Outcome]:
    """Send concurrently: a slow endpoint holds one thread, not the others' messages."""
    if len(batch) <= 1:
        return [send_one(o) for o in batch]
    threads = min(len(batch), settings.NOTIFY_CONCURRENCY)
    with ThreadPoolExecutor(threads, thread_name_prefix="notify-send") as pool:
        return list(pool.map(send_one, batch))


def deliver_due(*, limit: int = 100, worker: str = "") -> int:
    """Claim what is due, send it, record how it went; returns how many were attempted.

    The worker's loop does the same with a lasting thread pool (``siaga.notify.delivery``).
    """
    batch = claim_due(limit=limit, worker=worker)
    if batch:
        record_outcomes(send_all(batch))
    return len(batch)


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


# --- inbox ------------------------------------------------------------------------------------


def mark_read(*, actor: User, message_id: uuid.UUID) -> Message:
    with transaction.atomic():
        message = Message.objects.inbox_of(actor).filter(pk=message_id).first()
        if message is None:
            raise NotFound(
                "message_not_found", _("No such message."), detail={"message": str(message_id)}
            )
        if message.read_at is None:
            message.read_at = timezone.now()
            message.save(update_fields=["read_at", "updated_at"])
    return message


def mark_all_read(*, actor: User) -> int:
    with transaction.atomic():
        return (
            Message.objects.inbox_of(actor)
            .filter(read_at__isnull=True)
            .update(read_at=timezone.now(), updated_at=timezone.now())
        )


# --- endpoints --------------------------------------------------------------------------------

_webhook_url = URLValidator(schemes=["http", "https"])


def _address_invalid(channel: str, message: Any) -> InvalidInput:
    return InvalidInput("endpoint_address_invalid", message, detail={"channel": channel})


def normalize_address(channel: str, address: str) -> str:
    """The address in its stored form, or ``InvalidInput("endpoint_address_invalid")``."""
    address = (address or "").strip()
    if channel == Channel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            raise _address_invalid(channel, _("This is not an e-mail address.")) from None
        local, _at, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    if channel == Channel.TELEGRAM:
        digits = address[1:] if address.startswith("-") else address
        # ASCII digits only; str.isdigit() would take other scripts' digits too.
        if not (digits and digits.isascii() and digits.isdigit()) or (
            abs(int(address)) >= TELEGRAM_CHAT_ID_MAX
        ):
            raise _address_invalid(
                channel, _("A Telegram chat id is a whole number, such as 123456789 or -100123.")
            )
        return str(int(address))
    if channel == Channel.WEBHOOK:
        try:
            if len(address) > 500:
                raise ValidationError("too long")
            _webhook_url(address)
        except ValidationError:
            raise _address_invalid(
                channel, _("A webhook is an http:// or https:// URL of at most 500 characters.")
            ) from None
        if not settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE and is_private_host(
            urlsplit(address).hostname or ""
        ):
            raise InvalidInput(
                "endpoint_address_private",
                _("A webhook must be on a public address, not this machine or a private network."),
                detail={"channel": channel},
            )
        return address
    raise InvalidInput(
        "endpoint_channel_unknown", _("Unknown channel."), detail={"channel": channel}
    )


def _origin(url: str) -> str:
    """Scheme and host of a webhook, for the ledger: paths and queries may hold tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def add_endpoint(
    *,
    actor: User,
    channel: str,
    address: str,
    unit_id: int | None = None,
    timeout: float | None = None,
    id: uuid.UUID | None = None,
) -> Created[Endpoint]:
    """A person adds their own e-mail or Telegram chat; an admin adds a webhook of a unit.

    A webhook gets a fresh signing secret (``endpoint.secret``), for the caller to show once.
    """
    if channel not in EndpointChannel.values:
        raise InvalidInput(
            "endpoint_channel_unknown", _("Unknown channel."), detail={"channel": channel}
        )
    address = normalize_address(channel, address)
    unit: AgencyUnit | None = None
    if channel in PERSONAL_CHANNELS:
        if unit_id is not None:
            raise InvalidInput(
                "endpoint_unit_not_allowed",
                _("E-mail and Telegram endpoints are personal; only a webhook belongs to a unit."),
            )
        if timeout is not None:
            raise InvalidInput("endpoint_timeout_invalid", _("Only a webhook has a timeout."))
        fields: dict[str, Any] = {
            "channel": channel,
            "address": address,
            "user_id": actor.pk,
            "unit_id": None,
            "timeout": None,
        }
    else:
        if unit_id is None:
            raise InvalidInput("endpoint_unit_required", _("A webhook belongs to an agency unit."))
        unit = AgencyUnit.objects.filter(pk=unit_id).first()
        if unit is None or not user_can(actor, Action.VIEW, unit.region_id):
            raise InvalidInput("unit_unknown", _("No such agency unit."), detail={"unit": unit_id})
        if not user_can(actor, Action.MANAGE_MASTER_DATA, unit.region_id):
            raise PermissionDenied(
                "unit_out_of_scope",
                _("You may not manage this unit's webhooks."),
                detail={"unit": unit_id},
            )
        if timeout is not None and not 0 < timeout <= MAX_ENDPOINT_TIMEOUT:
            raise InvalidInput(
                "endpoint_timeout_invalid",
                _("A webhook's timeout is more than 0 and at most %(max)s seconds.")
                % {"max": int(MAX_ENDPOINT_TIMEOUT)},
            )
        fields = {
            "channel": channel,
            "address": address,
            "user_id": None,
            "unit_id": unit.pk,
            "timeout": timeout,
        }
    endpoint_id = id or uuid7()
    with transaction.atomic():
        existing = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if existing is not None:
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        owner = {"user_id": actor.pk} if unit is None else {"unit_id": unit.pk}
        taken = Endpoint.objects.filter(
            **owner, channel=channel, address=address, active=True
        ).exists()
        if taken:
            raise Conflict(
                "endpoint_exists",
                _("This address is already an endpoint."),
                detail={"channel": channel},
            )
        secret = secrets.token_hex(32) if channel == Channel.WEBHOOK else ""
        try:
            with transaction.atomic():
                endpoint = Endpoint.objects.create(id=endpoint_id, secret=secret, **fields)
        except IntegrityError:
            raise Conflict(
                "endpoint_exists",
                _("This address is already an endpoint."),
                detail={"channel": channel},
            ) from None
        if unit is not None:
            # Where a unit's alarms flow is security configuration: the ledger records it,
            # without the secret or the URL's path.
            ledger.append(
                kind="notify.webhook_added",
                subject=endpoint,
                actor=actor,
                unit=unit,
                region=unit.region_id,
                payload={"unit": unit.name, "origin": _origin(address)},
            )
    return Created(endpoint, created=True)


def remove_endpoint(*, actor: User, endpoint_id: uuid.UUID) -> Endpoint:
    """Deactivate an endpoint; its pending messages become dead letters when next due."""
    with transaction.atomic():
        found = Endpoint.objects.manageable_by(actor).filter(pk=endpoint_id).first()
        if found is None:
            raise NotFound(
                "endpoint_not_found", _("No such endpoint."), detail={"endpoint": str(endpoint_id)}
            )
        endpoint = (
            Endpoint.objects.select_for_update(of=("self",)).select_related("unit").get(pk=found.pk)
        )
        if not endpoint.active:
            return endpoint
        endpoint.active = False
        endpoint.save(update_fields=["active", "updated_at"])
        if endpoint.unit is not None:
            ledger.append(
                kind="notify.webhook_removed",
                subject=endpoint,
                actor=actor,
                unit=endpoint.unit,
                region=endpoint.unit.region_id,
                payload={"unit": endpoint.unit.name, "origin": _origin(endpoint.address)},
            )
    return endpoint

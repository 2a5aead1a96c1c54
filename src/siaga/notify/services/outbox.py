"""Writing to the outbox: ``notify_user`` and ``notify_webhooks``, in the caller's transaction.

A message exists exactly when the change it reports was committed (the transactional outbox);
de-duplication by ``dedup_key`` and grouping by ``group_key`` happen here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from siaga.accounts.models import User
from siaga.core import i18n
from siaga.notify import channels
from siaga.notify.choices import PERSONAL_CHANNELS, Channel, MessageState
from siaga.notify.models import Endpoint, Message
from siaga.regions.codes import parse_region_code

logger = logging.getLogger("siaga.notify")


class NotifyUsageError(RuntimeError):
    """A programming error: notify used in a way that would break the outbox's guarantees."""


# Set after a commit that wrote outbox messages: the delivery loop of this process starts at once.
delivery_wanted = threading.Event()


def wake_delivery() -> None:
    delivery_wanted.set()


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

"""Sending one message over its channel: e-mail, the Telegram Bot API, or a signed webhook.

Nothing here touches the database: the worker claims messages, hands an ``Outgoing`` snapshot to
``send`` in a thread of its pool, and records the outcome itself. A failure raises
``DeliveryError``; ``permanent`` ones are dead-lettered at once, the others retried.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import smtplib
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from siaga.core.links import public_url
from siaga.notify.choices import Channel

USER_AGENT = "SIAGA-notify/1"
SIGNATURE_VERSION = "v1"


class DeliveryError(Exception):
    """A send that failed. ``permanent``: retrying cannot help (e.g. Telegram "chat not found")."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        maybe_received: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason[:1000]
        self.permanent = permanent
        self.retry_after = retry_after
        # The request went out and no answer came (a read timeout, a dropped connection): the
        # receiver may have acted on it, so the next attempt is marked as a possible repeat.
        self.maybe_received = maybe_received


class LeaseRunOut(DeliveryError):
    """Not sent: the claim's lease was nearly over before a thread got to it (another worker
    may take the message now). Recorded as a release, not as a failed attempt."""

    def __init__(self) -> None:
        super().__init__("lease_run_out: not sent, the lease was nearly over")


# What went out, but may not have arrived: the next attempt may repeat it.
_MAYBE_RECEIVED = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.RemoteProtocolError,
)

# The first line of a message sent again after an attempt whose outcome is unknown.
REPEAT_NOTICE = gettext_noop("May repeat an earlier message")


@dataclass(frozen=True)
class Outgoing:
    """What a worker needs to send one claimed message, read from the database beforehand."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    channel: str
    address: str
    secret: str
    timeout: float | None
    endpoint_active: bool
    kind: str
    title: str
    body: str
    url: str
    data: dict[str, Any]
    about_type: str
    about_id: str
    count: int
    created_at: datetime
    attempts: int
    lease_owner: str
    # The recipient's: the words channels add ("(3 times)", the e-mail footer) follow it.
    language: str = "id"
    # The receiving system (``Endpoint.delivery_key``): its concurrency limit and circuit.
    delivery_key: str = ""
    # An earlier attempt may have reached the recipient (docs/notify.md, "Repeats").
    possible_repeat: bool = False
    # The claim's lease: a send must end before it, or another worker may send it again.
    lease_until: datetime | None = None

    def lease_left(self) -> float:
        """Seconds left on the lease (the lease's full length when unknown)."""
        if self.lease_until is None:
            return float(settings.NOTIFY_LEASE_SECONDS)
        return (self.lease_until - datetime.now(UTC)).total_seconds()


def webhook_payload(message: Outgoing) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "kind": message.kind,
        "title": message.title,
        "body": message.body,
        "url": public_url(message.url),
        "data": message.data,
        "about": {"type": message.about_type, "id": message.about_id}
        if message.about_type
        else None,
        "count": message.count,
        "created_at": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``, the X-Siaga-Signature value."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def _title_with_count(message: Outgoing) -> str:
    if message.count <= 1:
        return message.title
    return _("%(title)s (%(count)s times)") % {"title": message.title, "count": message.count}


def _text(message: Outgoing) -> str:
    parts = [_title_with_count(message)]
    if message.possible_repeat:
        parts.insert(0, _(REPEAT_NOTICE))
    if message.body:
        parts.append(message.body)
    if message.url:
        parts.append(public_url(message.url))
    return "\n\n".join(parts)


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http_client() -> httpx.Client:
    """One pooled client for every sending thread (httpx clients are thread-safe)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            )
        return _client


def _timeout(message: Outgoing, wanted: float | None = None) -> float:
    # Never longer than most of what is left of the lease: a send must end before another
    # worker may send the message again.
    wanted = wanted or message.timeout or settings.NOTIFY_WEBHOOK_TIMEOUT_SECONDS
    return max(0.1, min(wanted, settings.NOTIFY_LEASE_SECONDS * 0.8, message.lease_left() * 0.8))


def is_private_host(host: str) -> bool:
    """Whether ``host`` names this machine or a private network: ``localhost``, or an address
    literal that is loopback, private, link-local, reserved, multicast or unspecified."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _refuse_private_destination(url: str) -> None:
    """A webhook reaches only public addresses (unless the deployment allows private ones): a
    unit admin must not point SIAGA's signed requests at its own database, cloud metadata or an
    office network. The name is resolved here, just before the request, so that a public name
    that resolves to a private address is refused too."""
    if settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_private_host(host):
        raise DeliveryError(f"webhook: {host} is not a public address", permanent=True)
    try:
        resolved = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise DeliveryError(f"webhook: cannot resolve {host}: {exc}") from None
    for *_rest, sockaddr in resolved:
        if is_private_host(str(sockaddr[0])):
            raise DeliveryError(
                f"webhook: {host} resolves to {sockaddr[0]}, not a public address",
                permanent=True,
            )


def send_webhook(message: Outgoing) -> None:
    _refuse_private_destination(message.address)
    body = json.dumps(
        webhook_payload(message), ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(message.id),
        "X-Siaga-Timestamp": timestamp,
        "X-Siaga-Signature": sign(message.secret, timestamp, body),
        "X-Siaga-Kind": message.kind,
    }
    if message.possible_repeat:
        # Same Idempotency-Key as before; this says why a receiver may see the id again.
        headers["X-Siaga-Redelivery"] = "possible-repeat"
    timeout = _timeout(message)
    try:
        response = http_client().post(
            message.address, content=body, headers=headers, timeout=timeout
        )
    except httpx.TimeoutException as exc:
        raise DeliveryError(
            f"webhook: no answer within {timeout:g} s",
            maybe_received=isinstance(exc, _MAYBE_RECEIVED),
        ) from None
    except _MAYBE_RECEIVED as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}", maybe_received=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        # Every refusal is retried: a receiver being repaired should still get the alarm.
        raise DeliveryError(f"webhook: HTTP {response.status_code}: {response.text[:300]}")


def send_telegram(message: Outgoing) -> None:
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise DeliveryError(
            "telegram_not_configured: SIAGA_TELEGRAM_BOT_TOKEN is not set for the worker",
            permanent=True,
        )
    url = f"{settings.TELEGRAM_API_URL}/bot{token}/sendMessage"
    payload = {
        "chat_id": int(message.address),
        "text": _text(message)[:4096],
        "disable_web_page_preview": True,
    }
    timeout = _timeout(message, settings.NOTIFY_WEBHOOK_TIMEOUT_SECONDS)
    try:
        response = http_client().post(url, json=payload, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise DeliveryError(
            f"telegram: no answer within {timeout:g} s",
            maybe_received=isinstance(exc, _MAYBE_RECEIVED),
        ) from None
    except _MAYBE_RECEIVED as exc:
        reason = f"telegram: {type(exc).__name__}: {exc}".replace(token, "…")
        raise DeliveryError(reason, maybe_received=True) from None
    except httpx.HTTPError as exc:
        # The token is part of the URL: never let it reach the stored error.
        raise DeliveryError(f"telegram: {type(exc).__name__}: {exc}".replace(token, "…")) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code == 200 and answer.get("ok") is True:
        return
    description = str(answer.get("description") or response.text[:300]).replace(token, "…")
    if response.status_code in (400, 403):
        # "Bad Request: chat not found", "Forbidden: bot was blocked by the user": no retry helps.
        raise DeliveryError(description, permanent=True)
    retry_after = None
    parameters = answer.get("parameters")
    if response.status_code == 429 and isinstance(parameters, dict):
        value = parameters.get("retry_after")
        retry_after = float(value) if isinstance(value, int | float) else None
    raise DeliveryError(
        f"telegram: HTTP {response.status_code}: {description}", retry_after=retry_after
    )


def email_configured() -> bool:
    """Is there a mailer to send with? Only when SIAGA_EMAIL_HOST is set (or a test sets one)."""
    return "default" in getattr(settings, "MAILERS", {})


def send_email(message: Outgoing) -> None:
    if not email_configured():
        raise DeliveryError(
            "email_not_configured: SIAGA_EMAIL_HOST is not set for the worker", permanent=True
        )
    title = " ".join(_title_with_count(message).split())
    subject = title if title.startswith("[SIAGA]") else f"[SIAGA] {title}"
    body = (
        _text(message)
        + "\n\n-- \n"
        + _("Sent by SIAGA. Manage notifications on your account page.")
    )
    email = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.address],
        headers={
            "X-Siaga-Message-Id": str(message.id),
            "X-Siaga-Kind": message.kind,
            **({"X-Siaga-Redelivery": "possible-repeat"} if message.possible_repeat else {}),
        },
    )
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"e-mail refused: {exc.recipients}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        reason = f"e-mail: SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        raise DeliveryError(reason, permanent=exc.smtp_code >= 500) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail: {type(exc).__name__}: {exc}") from None


def send(message: Outgoing) -> None:
    """Deliver ``message`` or raise ``DeliveryError``."""
    if not message.endpoint_active:
        raise DeliveryError("endpoint_removed: the endpoint was removed", permanent=True)
    with translation.override(message.language):
        _send(message)


def _send(message: Outgoing) -> None:
    if message.channel == Channel.WEBHOOK:
        send_webhook(message)
    elif message.channel == Channel.TELEGRAM:
        send_telegram(message)
    elif message.channel == Channel.EMAIL:
        send_email(message)
    else:
        raise DeliveryError(f"channel {message.channel!r} is not delivered", permanent=True)

"""Real local peers for the channels: a webhook receiver, a Telegram Bot API, an SMTP server.

Each listens on 127.0.0.1 on a port of its own, in a thread of the test process, so that the
code under test talks HTTP and SMTP exactly as it would in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from siaga.accounts.choices import AgencyKind
from siaga.accounts.models import Agency, AgencyUnit, User
from siaga.notify import services
from siaga.notify.choices import Channel
from siaga.notify.models import Endpoint
from siaga.regions.choices import RegionKind
from siaga.regions.models import Region

BOT_TOKEN = "123456:TEST-token"
MISSING_CHAT = -1009999999999


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler left sleeping must not hold the test up at close
    allow_reuse_address = True


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="test-peer", daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}"


@dataclass
class Delivery:
    path: str
    id: str
    payload: dict[str, Any]
    at: float


@dataclass
class WebhookReceiver:
    """Verifies X-Siaga-Signature and keeps each message once, by its Idempotency-Key.

    Paths choose the behaviour: ``/ok``, ``/fail`` (500), ``/slow`` (answers after
    ``slow_seconds``), ``/hold`` (keeps the first request of each id for ``hold_seconds``
    before answering; repeats answer at once), ``/busy`` (``busy_seconds`` per request).
    """

    url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    held: dict[str, Delivery] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    # The headers of the latest request of each id.
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    bad_signatures: int = 0
    slow_seconds: float = 2.0
    hold_seconds: float = 30.0
    busy_seconds: float = 0.0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def endpoint_url(self, path: str) -> str:
        return self.url + path

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(predicate, timeout)

    def count(self, message_id: str) -> int:
        return sum(1 for _p, i, _s in self.requests if i == message_id)

    def handle(self, path: str, headers: Any, body: bytes) -> int:
        message_id = headers.get("Idempotency-Key", "")
        timestamp = headers.get("X-Siaga-Timestamp", "")
        expected = hmac.new(
            self.secrets.get(path, "").encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        signature = headers.get("X-Siaga-Signature", "")
        if (
            not hmac.compare_digest(signature, f"v1={expected}")
            or abs(time.time() - int(timestamp or 0)) > 300
        ):
            with self.arrived:
                self.bad_signatures += 1
                self.requests.append((path, message_id, 401))
                self.arrived.notify_all()
            return 401
        payload = json.loads(body)
        assert payload["id"] == message_id
        self.headers[message_id] = dict(headers.items())
        status = 500 if path == "/fail" else 200
        first = False
        with self.arrived:
            self.requests.append((path, message_id, status))
            if status == 200 and message_id not in self.held:
                first = True
                self.held[message_id] = Delivery(path, message_id, payload, time.monotonic())
            self.arrived.notify_all()
        if path == "/slow":
            time.sleep(self.slow_seconds)
        if path == "/hold" and first:
            time.sleep(self.hold_seconds)
        if path == "/busy":
            time.sleep(self.busy_seconds)
        return status


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    state = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state.handle(self.path, self.headers, body)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass  # the sender gave up waiting (a timeout, or a killed worker)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, state.url = _serve(Handler)
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class FakeTelegram:
    """The Bot API's sendMessage: records calls; ``MISSING_CHAT`` is a chat that is not found."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)


@pytest.fixture
def telegram(settings: SettingsWrapper) -> Iterator[FakeTelegram]:
    state = FakeTelegram()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            token, _slash, method = self.path.removeprefix("/bot").partition("/")
            state.tokens.append(token)
            if method != "sendMessage" or token != BOT_TOKEN:
                status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            elif body.get("chat_id") == MISSING_CHAT:
                status, answer = (
                    400,
                    {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                )
            else:
                state.calls.append(body)
                status, answer = 200, {"ok": True, "result": {"message_id": len(state.calls)}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, state.url = _serve(Handler)
    settings.TELEGRAM_API_URL = state.url
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    yield state
    server.shutdown()
    server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server(settings: SettingsWrapper) -> Iterator[_Mailbox]:
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 5},
        }
    }
    yield mailbox
    controller.stop()


@pytest.fixture
def quick_retries(settings: SettingsWrapper) -> SettingsWrapper:
    """Retries due at once and three attempts at most, so a test sees a dead letter soon."""
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.0
    settings.NOTIFY_MAX_ATTEMPTS = 3
    return settings


def unit_at(region: str, kind: str = AgencyKind.POLRI) -> AgencyUnit:
    """A unit of ``kind`` at ``region``; the region itself is made if a flush removed it."""
    level = region.count(".") + 1
    parent = None
    if level > 1:
        parent = unit_at(region.rsplit(".", 1)[0], kind).region
    place, _new = Region.objects.get_or_create(
        code=region,
        defaults={
            "name": f"Region {region}",
            "level": level,
            "kind": RegionKind.PROVINSI if level == 1 else RegionKind.KABUPATEN,
            "parent": parent,
        },
    )
    agency, _new = Agency.objects.get_or_create(kind=kind, defaults={"name": kind.upper()})
    unit, _new = AgencyUnit.objects.get_or_create(
        agency=agency, region=place, defaults={"name": f"{kind.upper()} {region}"}
    )
    return unit


def add_webhook(
    receiver: WebhookReceiver, unit: AgencyUnit, path: str, *, timeout: float | None = None
) -> Endpoint:
    """A webhook of ``unit`` to ``receiver`` at ``path``, without the ledger (flush-proof)."""
    endpoint = Endpoint.objects.create(
        channel=Channel.WEBHOOK,
        address=receiver.endpoint_url(path),
        unit=unit,
        secret=f"secret-for-{path}-{unit.pk}",
        timeout=timeout,
    )
    receiver.secrets[path] = endpoint.secret
    return endpoint


def make_user(username: str, *, email: str = "") -> User:
    user, _new = User.objects.get_or_create(username=username, defaults={"email": email})
    return user


def tell(user: User, n: int = 0, **overrides: Any) -> list[Any]:
    """``notify_user`` in a transaction of its own, with test defaults."""
    arguments: dict[str, Any] = {
        "kind": "test.notice",
        "title": f"Pemberitahuan {n}",
        "body": "Isi pemberitahuan.",
        "url": f"/insiden/{n}/",
        "dedup_key": f"test:{n}",
    }
    arguments.update(overrides)
    with transaction.atomic():
        return services.notify_user(user, **arguments)


def tell_webhooks(region: str, n: int = 0, **overrides: Any) -> list[Any]:
    arguments: dict[str, Any] = {
        "kind": "incident.reported",
        "title": f"Insiden {n}",
        "body": "Kebakaran kecil di gudang.",
        "url": f"/insiden/{n}/",
        "dedup_key": f"incident:{n}:reported",
    }
    arguments.update(overrides)
    with transaction.atomic():
        return services.notify_webhooks(region, **arguments)


def deliver_everything(rounds: int = 20) -> int:
    """``deliver_due`` until nothing is due (retries due at once included)."""
    total = 0
    for _ in range(rounds):
        done = services.deliver_due(limit=100, worker="test")
        if not done:
            break
        total += done
    return total

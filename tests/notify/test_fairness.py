"""Fair delivery: a hanging receiver delays no one else, each receiver gets at most its share of
sends, a failing one is paused by its circuit breaker, a graceful stop gives back what it did not
send, and a message that may repeat an earlier one says so to its reader.

The receivers are real HTTP servers on 127.0.0.1, each on a port of its own (a receiving system
is a webhook's host and port); the worker tests start real `siaga worker` processes.
"""

from __future__ import annotations

import operator
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.utils import timezone, translation
from pytest_django.fixtures import Settings as SettingsWrapper

from siaga.accounts.models import AgencyUnit, User
from siaga.notify import services
from siaga.notify.channels import REPEAT_NOTICE
from siaga.notify.choices import Channel, CircuitState, MessageState
from siaga.notify.delivery import DeliveryLoop
from siaga.notify.models import Circuit, Endpoint, Message
from tests.conftest import World
from tests.notify.conftest import (
    FakeTelegram,
    WebhookReceiver,
    _Mailbox,
    _serve,
    add_webhook,
    deliver_everything,
    make_user,
    tell,
    tell_webhooks,
    unit_at,
)
from tests.notify.test_workers import eventually, loop, start_worker, stop_worker

__all__ = ["loop"]  # the fixture, used here by name


@dataclass
class Arrival:
    id: str
    headers: dict[str, str]
    at: float


@dataclass
class Peer:
    """A receiving system that answers ``status`` after ``delay`` seconds. ``holds`` gives the
    first requests, in the order they arrive, delays of their own (None: until the test ends).
    It counts the requests it is answering at once (``peak``)."""

    url: str = ""
    status: int = 200
    delay: float = 0.0
    holds: list[float | None] = field(default_factory=list)
    requests: list[Arrival] = field(default_factory=list)
    current: int = 0
    peak: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def ids(self) -> list[str]:
        with self.changed:
            return [a.id for a in self.requests]

    def handle(self, headers: Any) -> int:
        with self.changed:
            arrival = len(self.requests)
            self.requests.append(
                Arrival(headers.get("Idempotency-Key", ""), dict(headers.items()), time.monotonic())
            )
            self.current += 1
            self.peak = max(self.peak, self.current)
            self.changed.notify_all()
        wait: float | None = self.holds[arrival] if arrival < len(self.holds) else self.delay
        if wait is None or wait > 0:
            self.released.wait(wait)  # the test's end releases every sleeper
        with self.changed:
            self.current -= 1
            self.changed.notify_all()
        return self.status


@pytest.fixture
def peer() -> Iterator[Callable[..., Peer]]:
    """``peer(**behaviour)``: a receiving system on a port of its own, until the test ends."""
    started: list[tuple[Any, Peer]] = []

    def start(**behaviour: Any) -> Peer:
        state = Peer(**behaviour)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = state.handle(self.headers)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server, state.url = _serve(Handler)
        started.append((server, state))
        return state

    yield start
    for server, state in started:
        state.released.set()
        server.shutdown()
        server.server_close()


def add_peer(peer: Peer, unit: AgencyUnit, *, timeout: float | None = None) -> Endpoint:
    return Endpoint.objects.create(
        channel=Channel.WEBHOOK,
        address=f"{peer.url}/siaga",
        unit=unit,
        secret="secret-of-the-peer",
        timeout=timeout,
    )


# --- the per-receiver limit ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_hanging_receiver_does_not_delay_a_healthy_one(
    receiver: WebhookReceiver,
    peer: Callable[..., Peer],
    loop: Callable[..., DeliveryLoop],
    settings: SettingsWrapper,
) -> None:
    settings.NOTIFY_ENDPOINT_CONCURRENCY = 2
    # Answers after a minute; its timeout (20 s) outlasts the test, so the hanging sends hold
    # their threads throughout.
    hanging = peer(delay=60.0)
    add_peer(hanging, unit_at("17"), timeout=20.0)
    add_webhook(receiver, unit_at("16"), "/ok")
    loop(concurrency=8)
    # More messages for the hanging receiver than the worker has threads.
    for n in range(12):
        tell_webhooks("17.01", n)
    assert hanging.wait_for(lambda: hanging.current == 2)

    delays = []
    for n in range(100, 110):
        committed = time.monotonic()
        [message] = tell_webhooks("16.08.01", n)
        key = str(message.pk)
        assert receiver.wait_for(partial(operator.contains, receiver.held, key), timeout=10)
        delays.append(receiver.held[key].at - committed)
    assert max(delays) < 1.0, delays  # before the fix: until the hanging ones' timeout
    assert (hanging.peak, len(hanging.requests)) == (2, 2)  # the other ten wait their turn


@pytest.mark.django_db(transaction=True)
def test_two_workers_together_never_send_a_receiver_more_than_its_limit(
    peer: Callable[..., Peer], loop: Callable[..., DeliveryLoop], settings: SettingsWrapper
) -> None:
    settings.NOTIFY_ENDPOINT_CONCURRENCY = 2
    busy = peer(delay=0.3)
    add_peer(busy, unit_at("16"))
    ids = sorted(str(m.pk) for n in range(12) for m in tell_webhooks("16.08.01", n))
    loop(concurrency=4)
    loop(concurrency=4)  # a second worker: the limit is the receiver's, not each worker's
    assert busy.wait_for(lambda: len(busy.requests) == 12, timeout=30)
    assert eventually(
        lambda: Message.objects.filter(pk__in=ids, state=MessageState.SENT).count() == 12
    )
    assert busy.peak == 2
    assert sorted(busy.ids()) == ids  # each once


# --- the circuit breaker -------------------------------------------------------------------------


def until_cooled(circuit: Circuit) -> None:
    """Wait for the end of the circuit's cool-down (a real wait: the clock is not faked)."""
    circuit.refresh_from_db()
    assert circuit.open_until is not None
    time.sleep(max(0.0, (circuit.open_until - timezone.now()).total_seconds()) + 0.05)


def test_the_breaker_opens_after_n_failures_defers_without_attempts_probes_and_closes(
    world: World,
    peer: Callable[..., Peer],
    settings: SettingsWrapper,
    client_for: Any,
    admin_okut: User,
    admin_oku: User,
    operator_okut: User,
) -> None:
    settings.NOTIFY_BREAKER_FAILURES = 3
    settings.NOTIFY_BREAKER_COOLDOWN_SECONDS = 5.0
    # Signed in beforehand: signing in is slow on a loaded machine, the cool-down is short.
    okut, oku, operator = (client_for(u) for u in (admin_okut, admin_oku, operator_okut))
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.0  # a failed message is due again at once
    settings.NOTIFY_MAX_ATTEMPTS = 8
    settings.NOTIFY_ENDPOINT_CONCURRENCY = 1  # one send per round: the count is exact
    broken = peer(status=500)
    endpoint = add_peer(broken, world.units["polri:16.08"])
    ids = [m.pk for n in range(5) for m in tell_webhooks("16.08.01", n)]

    for _ in range(3):
        assert services.deliver_due(worker="test") == 1
    circuit = Circuit.objects.get(key=endpoint.delivery_key)
    assert endpoint.delivery_key == f"webhook:127.0.0.1:{broken.url.rsplit(':', 1)[1]}"
    assert (circuit.state(), circuit.failures, circuit.last_error) == (
        CircuitState.OPEN,
        3,
        "webhook: HTTP 500: {}",
    )

    # Open: nothing is sent, no attempt is used, every due message waits for the cool-down.
    assert services.deliver_due(worker="test") == 0
    assert len(broken.requests) == 3
    rows = Message.objects.filter(pk__in=ids)
    assert {(m.state, m.next_attempt_at) for m in rows} == {
        (MessageState.PENDING, circuit.open_until)
    }
    assert sum(m.attempts for m in rows) == 3

    # Seen by the admins of the unit, over the API and on the undelivered page; not by others.
    shown = okut.get("/api/v1/notify/circuits")
    assert shown.status_code == 200
    [row] = shown.json()
    assert (row["key"], row["state"], row["failures"]) == (endpoint.delivery_key, "open", 3)
    assert oku.get("/api/v1/notify/circuits").json() == []
    refused = operator.get("/api/v1/notify/circuits")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    page = okut.get("/notifikasi/gagal/")
    assert f'data-circuit="{endpoint.delivery_key}" data-state="open"' in page.content.decode()

    # Half-open after the cool-down: one probe, however many may be sent at once; it fails,
    # and the circuit opens again.
    settings.NOTIFY_ENDPOINT_CONCURRENCY = 5
    until_cooled(circuit)
    assert services.deliver_due(worker="test") == 1
    assert len(broken.requests) == 4
    circuit.refresh_from_db()
    assert (circuit.state(), circuit.failures, circuit.probe_message) == (
        CircuitState.OPEN,
        4,
        None,
    )
    assert services.deliver_due(worker="test") == 0

    # The next probe succeeds: closed, and the rest go.
    broken.status = 200
    until_cooled(circuit)
    assert services.deliver_due(worker="test") == 1
    circuit.refresh_from_db()
    assert (circuit.state(), circuit.failures, circuit.open_until) == (
        CircuitState.CLOSED,
        0,
        None,
    )
    assert deliver_everything() == 4
    assert len(broken.requests) == 9  # four failures, five deliveries
    assert set(rows.values_list("state", flat=True)) == {MessageState.SENT}
    assert sum(rows.values_list("attempts", flat=True)) == 9  # none used while deferred


def test_permanent_refusals_do_not_open_the_circuit(
    world: World, telegram: FakeTelegram, settings: SettingsWrapper
) -> None:
    from tests.notify.conftest import MISSING_CHAT

    settings.NOTIFY_BREAKER_FAILURES = 2
    user = make_user("chat.hilang")
    Endpoint.objects.create(user=user, channel=Channel.TELEGRAM, address=str(MISSING_CHAT))
    for n in range(3):
        tell(user, n)
    assert deliver_everything() == 3
    assert not Circuit.objects.exists()
    assert Message.objects.filter(user=user, state=MessageState.DEAD).count() == 3


# --- a graceful stop ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sigterm_gives_back_unstarted_leases_and_records_what_finishes(
    peer: Callable[..., Peer],
) -> None:
    # The first request answers within the grace period, the second hangs past it; repeats
    # of any message answer at once.
    receiving = peer(holds=[2.5, None])
    add_peer(receiving, unit_at("16"), timeout=8.0)
    ids = [str(m.pk) for n in range(6) for m in tell_webhooks("16.08.01", n)]
    settings_for_workers = {
        "SIAGA_NOTIFY_CONCURRENCY": "2",  # two sends at once, two more claimed and waiting
        "SIAGA_NOTIFY_ENDPOINT_CONCURRENCY": "8",
        "SIAGA_NOTIFY_LEASE_SECONDS": "60",  # a lease that ran out cannot explain a resend
    }
    victim = start_worker(**settings_for_workers)
    survivor = None
    try:
        assert receiving.wait_for(lambda: len(receiving.requests) == 2, timeout=60)
        leased = Message.objects.filter(pk__in=ids, lease_until__isnull=False)
        assert eventually(lambda: leased.count() == 4, timeout=10)
        [finishing, hanging] = receiving.ids()
        waiting_ids = sorted(
            {str(pk) for pk in leased.values_list("pk", flat=True)} - {finishing, hanging}
        )
        assert len(waiting_ids) == 2

        victim.send_signal(signal.SIGTERM)
        given_back = Message.objects.filter(pk__in=waiting_ids, lease_until__isnull=True)
        assert eventually(lambda: given_back.count() == 2, timeout=15)
        assert eventually(
            lambda: Message.objects.get(pk=finishing).state == MessageState.SENT, timeout=15
        )
        for row in Message.objects.filter(pk__in=waiting_ids):
            assert (row.state, row.lease_owner, row.attempts, row.possible_repeat) == (
                MessageState.PENDING,
                "",
                0,
                False,
            )
            assert row.next_attempt_at is not None and row.next_attempt_at <= timezone.now()
        stuck = Message.objects.get(pk=hanging)
        assert stuck.state == MessageState.PENDING
        assert stuck.lease_owner.split("/")[0].endswith(f":{victim.pid}")

        # Another worker takes the given-back ones at once, not when a lease runs out.
        started = time.monotonic()
        survivor = start_worker(**settings_for_workers)
        rest = sorted(set(ids) - {finishing, hanging})
        assert receiving.wait_for(lambda: set(rest) <= set(receiving.ids()), timeout=30)
        assert time.monotonic() - started < 30  # well inside the 60 s lease
        assert eventually(
            lambda: Message.objects.filter(pk__in=rest, state=MessageState.SENT).count() == 4
        )
        assert sorted(receiving.ids()) == sorted(ids)  # each exactly once
        owners = Message.objects.filter(pk__in=rest).values_list("lease_owner", flat=True)
        assert {o.split("/")[0].rsplit(":", 1)[1] for o in owners} == {str(survivor.pid)}
        assert Message.objects.get(pk=hanging).lease_owner == stuck.lease_owner  # not resent
    finally:
        stop_worker(victim)
        if survivor is not None:
            stop_worker(survivor)


# --- possible repeats -----------------------------------------------------------------------------


def crash_mid_send() -> list[Any]:
    """Claim what is due and die: no outcome recorded; then the lease runs out."""
    batch = services.claim_due(worker="crashed")
    gone = timezone.now() - timedelta(seconds=1)
    Message.objects.filter(pk__in=[o.id for o in batch]).update(
        lease_until=gone, next_attempt_at=gone
    )
    return batch


def in_language(language: str, msgid: str) -> str:
    with translation.override(language):
        return translation.gettext(msgid)


def test_a_resend_after_a_crash_says_it_may_repeat_in_the_readers_language(
    world: World,
    telegram: FakeTelegram,
    smtp_server: _Mailbox,
    receiver: WebhookReceiver,
    settings: SettingsWrapper,
) -> None:
    from django.utils.translation import gettext_noop

    from siaga.core import i18n

    settings.PUBLIC_URL = "https://siaga.okut.example"
    indonesian = make_user("jaga.bahasa", email="jaga@okut.example")
    english = make_user("guard.english", email="guard@okut.example")
    User.objects.filter(pk=english.pk).update(language="en")
    for user, chat in ((indonesian, "1001"), (english, "1002")):
        Endpoint.objects.create(user=user, channel=Channel.TELEGRAM, address=chat)
    webhook = add_webhook(receiver, world.units["polri:16.08"], "/ok")
    title = i18n.text(gettext_noop("REMINDER, still unacknowledged: %(title)s"), title="Banjir")
    for user in (User.objects.get(pk=indonesian.pk), User.objects.get(pk=english.pk)):
        tell(user, 1, title=title, body="Gudang B.")
    [hook] = tell_webhooks("16.08.01", 1)

    assert len(crash_mid_send()) == 5  # two chats, two e-mail addresses, one webhook
    assert telegram.calls == [] and smtp_server.messages == [] and receiver.requests == []
    assert deliver_everything() == 5

    by_chat = {call["chat_id"]: call["text"].split("\n\n") for call in telegram.calls}
    assert by_chat[1001] == [
        in_language("id", REPEAT_NOTICE),
        "PENGINGAT, belum diakui: Banjir",
        "Gudang B.",
        "https://siaga.okut.example/insiden/1/",
    ]
    assert by_chat[1002] == [
        "May repeat an earlier message",
        "REMINDER, still unacknowledged: Banjir",
        "Gudang B.",
        "https://siaga.okut.example/insiden/1/",
    ]
    mail = {to[0]: message for _from, to, message in smtp_server.messages}
    english_mail = mail["guard@okut.example"]
    assert str(english_mail.get_payload()).splitlines()[0] == "May repeat an earlier message"
    assert english_mail["X-Siaga-Redelivery"] == "possible-repeat"
    indonesian_mail = str(mail["jaga@okut.example"].get_payload()).splitlines()
    assert indonesian_mail[0] == in_language("id", REPEAT_NOTICE)
    assert indonesian_mail[2] == "PENGINGAT, belum diakui: Banjir"
    assert set(
        Message.objects.exclude(channel=Channel.INAPP).values_list("possible_repeat", "state")
    ) == {(True, MessageState.SENT)}
    # The webhook keeps its Idempotency-Key and is told why it may see it again.
    assert receiver.requests == [("/ok", str(hook.pk), 200)]
    assert receiver.headers[str(hook.pk)]["X-Siaga-Redelivery"] == "possible-repeat"
    assert Endpoint.objects.get(pk=webhook.pk).last_error == ""


def test_a_first_send_carries_no_repeat_marker(
    world: World, telegram: FakeTelegram, receiver: WebhookReceiver
) -> None:
    user = make_user("jaga.pertama")
    Endpoint.objects.create(user=user, channel=Channel.TELEGRAM, address="1003")
    add_webhook(receiver, world.units["polri:16.08"], "/ok")
    tell(user, 1)
    [hook] = tell_webhooks("16.08.01", 1)
    assert deliver_everything() == 2
    [call] = telegram.calls
    assert call["text"].split("\n\n")[0] == "Pemberitahuan 1"
    assert "X-Siaga-Redelivery" not in receiver.headers[str(hook.pk)]
    assert not Message.objects.filter(possible_repeat=True).exists()


def test_a_timed_out_send_marks_the_next_attempt_as_a_possible_repeat(
    world: World, peer: Callable[..., Peer], settings: SettingsWrapper
) -> None:
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.0
    slow = peer(holds=[3.0])  # the first request: no answer within the 1 s timeout
    add_peer(slow, world.units["polri:16.08"], timeout=1.0)
    [message] = tell_webhooks("16.08.01", 1)
    assert deliver_everything() == 2
    first, second = slow.requests
    assert first.id == second.id == str(message.pk)
    assert "X-Siaga-Redelivery" not in first.headers
    assert second.headers["X-Siaga-Redelivery"] == "possible-repeat"
    row = Message.objects.get(pk=message.pk)
    assert (row.state, row.attempts, row.possible_repeat) == (MessageState.SENT, 2, True)

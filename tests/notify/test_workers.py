"""The delivery loop and `siaga worker` processes: prompt, concurrent, at least once, never twice.

These tests commit (``transaction=True``): the loop and the worker processes read the outbox
through connections of their own. They build what they need themselves, because an earlier
transactional test may have flushed the shared test world.
"""

from __future__ import annotations

import operator
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import pytest

from siaga.notify.choices import MessageState
from siaga.notify.delivery import DeliveryLoop
from siaga.notify.models import Endpoint, Message
from siaga.notify.services import delivery_wanted
from tests.core.test_worker import worker_environment
from tests.notify.conftest import WebhookReceiver, add_webhook, tell_webhooks, unit_at


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def loop() -> Iterator[Callable[..., DeliveryLoop]]:
    """``loop(**options)``: a DeliveryLoop running in a thread until the test ends."""
    running: list[tuple[threading.Thread, threading.Event]] = []

    def start(**options: object) -> DeliveryLoop:
        stop = threading.Event()
        delivery = DeliveryLoop(worker="test-loop", **options)  # type: ignore[arg-type]
        thread = threading.Thread(target=delivery.run, args=(stop,), daemon=True)
        thread.start()
        running.append((thread, stop))
        return delivery

    yield start
    for thread, stop in running:
        stop.set()
        delivery_wanted.set()
        thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_the_loop_delivers_at_once_when_a_notification_commits(
    receiver: WebhookReceiver, loop: Callable[..., DeliveryLoop]
) -> None:
    add_webhook(receiver, unit_at("16"), "/ok")
    loop(poll_seconds=30.0)  # only the wake-up on commit can explain a prompt delivery
    time.sleep(0.2)
    committed = time.monotonic()
    [message] = tell_webhooks("16.08.01", 1)
    assert receiver.wait_for(lambda: str(message.pk) in receiver.held, timeout=10)
    assert receiver.held[str(message.pk)].at - committed < 1.0
    assert eventually(lambda: Message.objects.get(pk=message.pk).state == MessageState.SENT, 10)


@pytest.mark.django_db(transaction=True)
def test_a_slow_endpoint_does_not_hold_up_the_others(
    receiver: WebhookReceiver, loop: Callable[..., DeliveryLoop]
) -> None:
    receiver.slow_seconds = 3.0
    unit = unit_at("16")
    add_webhook(receiver, unit, "/slow", timeout=4.0)
    loop(poll_seconds=0.05, concurrency=4)
    [stuck] = tell_webhooks("16.08.01", 0)
    assert receiver.wait_for(lambda: str(stuck.pk) in receiver.held, timeout=10)
    Endpoint.objects.filter(pk=stuck.endpoint_id).update(active=False)
    add_webhook(receiver, unit, "/ok")

    delays = []
    for n in range(1, 6):
        committed = time.monotonic()
        [message] = tell_webhooks("16.08.01", n)
        key = str(message.pk)
        assert receiver.wait_for(partial(operator.contains, receiver.held, key), timeout=10)
        delays.append(receiver.held[key].at - committed)
    assert max(delays) < 1.0, delays
    assert Message.objects.get(pk=stuck.pk).state == MessageState.PENDING  # still in flight
    assert eventually(lambda: Message.objects.get(pk=stuck.pk).state == MessageState.SENT, 10)


@pytest.mark.django_db(transaction=True)
def test_a_steady_stream_of_notifications_all_arrive_once(
    receiver: WebhookReceiver, loop: Callable[..., DeliveryLoop]
) -> None:
    """Fifty a second for two seconds: every one arrives, none twice. How fast is measured by
    bench/alerting.py, not here: a test must not depend on the machine's load."""
    add_webhook(receiver, unit_at("16"), "/ok")
    loop()
    sent: list[str] = []
    for n in range(100):
        started = time.monotonic()
        [message] = tell_webhooks("16.08.01", n)
        sent.append(str(message.pk))
        time.sleep(max(0.0, 0.02 - (time.monotonic() - started)))
    assert receiver.wait_for(lambda: len(receiver.held) == 100, timeout=60)
    assert sorted(receiver.held) == sorted(sent)
    assert len(receiver.requests) == 100  # not one delivered twice
    # The loop records each send after the receiver has answered: on a loaded machine the last
    # few are still being written when the receiver holds them all.
    assert eventually(
        lambda: Message.objects.filter(pk__in=sent, state=MessageState.SENT).count() == 100
    )
    assert len(receiver.requests) == 100


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_neither_double_a_message_nor_split_a_group(
    receiver: WebhookReceiver,
) -> None:
    from django.db import connections

    endpoint = add_webhook(receiver, unit_at("16"), "/ok")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            tell_webhooks("16.08.01", n, dedup_key="same-key", group_key="one-group")
            tell_webhooks("16.08.01", n, dedup_key=f"own-key-{n}", group_key="another-group")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()  # the thread ends: close, not just tidy

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Message.objects.filter(endpoint=endpoint, dedup_key="same-key").count() == 1
    group = Message.objects.filter(endpoint=endpoint, group_key="another-group")
    assert group.count() == 8
    [head] = group.exclude(state=MessageState.GROUPED)
    assert (head.state, head.count) == (MessageState.PENDING, 8)


def start_worker(**variables: str) -> subprocess.Popen[bytes]:
    environment = worker_environment()
    environment.update(variables)
    args = [sys.executable, "-m", "siaga.cli", "worker", "--interval", "0.2", "--verbosity", "0"]
    return subprocess.Popen(args, env=environment)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_deliver_a_hundred_messages_each_exactly_once(
    receiver: WebhookReceiver,
) -> None:
    receiver.busy_seconds = 0.1
    add_webhook(receiver, unit_at("16"), "/busy")
    ids = [str(m.pk) for n in range(100) for m in tell_webhooks("16.08.01", n)]
    # Due a little later, when both workers are surely up: both must take part.
    Message.objects.filter(pk__in=ids).update(
        next_attempt_at=Message.objects.get(pk=ids[0]).created_at + timedelta(seconds=4)
    )
    # One receiver here, with a limit no single worker can fill: the workers share the
    # outbox. (At its limit, the worker holding the slots refills them in the transaction that
    # records its sends; tests/notify/test_fairness.py tests the limit.)
    workers = [
        start_worker(SIAGA_NOTIFY_CONCURRENCY="4", SIAGA_NOTIFY_ENDPOINT_CONCURRENCY="100")
        for _ in range(2)
    ]
    try:
        assert receiver.wait_for(lambda: len(receiver.held) == 100, timeout=90)
        assert eventually(
            lambda: Message.objects.filter(pk__in=ids, state=MessageState.SENT).count() == 100,
            timeout=30,
        )
    finally:
        for worker in workers:
            stop_worker(worker)
    assert sorted(receiver.held) == sorted(ids)
    assert sorted(i for _path, i, _status in receiver.requests) == sorted(ids)  # once each
    assert set(Message.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    owners = {o.split("/")[0] for o in Message.objects.values_list("lease_owner", flat=True)}
    assert {o.rsplit(":", 1)[1] for o in owners} == {str(w.pid) for w in workers}


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing(receiver: WebhookReceiver) -> None:
    receiver.hold_seconds = 60.0  # the first request of each message gets no answer for long
    add_webhook(receiver, unit_at("16"), "/hold")
    lease = {"SIAGA_NOTIFY_LEASE_SECONDS": "2"}
    victim = start_worker(**lease)
    survivor = None
    try:
        [message] = tell_webhooks("16.08.01", 1)
        key = str(message.pk)
        assert receiver.wait_for(lambda: key in receiver.held, timeout=60)
        leased = Message.objects.get(pk=key)
        assert leased.state == MessageState.PENDING
        assert leased.lease_owner.split("/")[0].endswith(f":{victim.pid}")
        victim.kill()  # mid-delivery: SIGKILL leaves no chance to clean up
        victim.wait(timeout=30)

        survivor = start_worker(**lease)
        assert receiver.wait_for(lambda: receiver.count(key) == 2, timeout=60)
        assert eventually(
            lambda: Message.objects.get(pk=key).state == MessageState.SENT, timeout=30
        )
    finally:
        stop_worker(victim)
        if survivor is not None:
            stop_worker(survivor)
    assert list(receiver.held) == [key]  # the de-duplicating receiver holds it once
    delivered = Message.objects.get(pk=key)
    assert delivered.attempts == 2
    assert delivered.lease_owner.split("/")[0].endswith(f":{survivor.pid}")

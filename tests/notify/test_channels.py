"""Delivery over the real protocols: signed webhooks, e-mail over SMTP, retries, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from siaga.accounts.models import User
from siaga.core.errors import Conflict, NotFound, PermissionDenied
from siaga.notify import channels, services
from siaga.notify.choices import MessageState
from siaga.notify.models import Message
from tests.conftest import World
from tests.notify.conftest import (
    WebhookReceiver,
    _Mailbox,
    add_webhook,
    deliver_everything,
    tell,
    tell_webhooks,
)

pytestmark = pytest.mark.django_db


def test_a_webhook_is_signed_and_carries_the_message(
    world: World, receiver: WebhookReceiver, settings: SettingsWrapper
) -> None:
    settings.PUBLIC_URL = "https://siaga.okut.example"
    add_webhook(receiver, world.units["polri:16.08"], "/ok")
    [message] = tell_webhooks(
        "16.08.01",
        7,
        data={"severity": 3, "incident": "abc"},
        about=("incidents.incident", "abc"),
    )

    assert deliver_everything() == 1

    assert receiver.bad_signatures == 0
    delivery = receiver.held[str(message.pk)]
    assert delivery.payload == {
        "id": str(message.pk),
        "kind": "incident.reported",
        "title": "Insiden 7",
        "body": "Kebakaran kecil di gudang.",
        "url": "https://siaga.okut.example/insiden/7/",
        "data": {"severity": 3, "incident": "abc"},
        "about": {"type": "incidents.incident", "id": "abc"},
        "count": 1,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert Message.objects.get(pk=message.pk).state == MessageState.SENT


def test_a_receiver_with_the_wrong_secret_refuses_and_the_message_is_retried(
    world: World, receiver: WebhookReceiver, quick_retries: SettingsWrapper
) -> None:
    add_webhook(receiver, world.units["polri:16.08"], "/ok")
    receiver.secrets["/ok"] = "not the secret"
    [message] = tell_webhooks("16.08.01", 1)
    deliver_everything()
    assert receiver.bad_signatures == 3
    dead = Message.objects.get(pk=message.pk)
    assert (dead.state, dead.attempts, dead.last_error) == (
        MessageState.DEAD,
        3,
        "webhook: HTTP 401: {}",
    )


def test_the_signature_recipe_of_the_docs() -> None:
    body = b'{"id":"1"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert channels.sign("s3cret", "1700000000", body) == f"v1={expected}"


def test_failing_webhooks_are_retried_then_dead_while_others_are_delivered(
    world: World, receiver: WebhookReceiver, quick_retries: SettingsWrapper
) -> None:
    # Margins wide enough for a loaded CI machine: the slow receiver answers after 4 s, its
    # timeout is 1.5 s, and the healthy one must not wait for either.
    receiver.slow_seconds = 4.0
    # Three paths of one local server stand for three receiving systems here: one host:port
    # would otherwise be one receiver, limited to SIAGA_NOTIFY_ENDPOINT_CONCURRENCY sends.
    quick_retries.NOTIFY_ENDPOINT_CONCURRENCY = 3
    unit = world.units["polri:16.08"]
    slow = add_webhook(receiver, unit, "/slow", timeout=1.5)
    failing = add_webhook(receiver, unit, "/fail")
    healthy = add_webhook(receiver, unit, "/ok")
    messages = {m.endpoint_id: m for m in tell_webhooks("16.08.01", 1)}

    started = time.monotonic()
    assert services.deliver_due(worker="test") == 3
    first_round = time.monotonic() - started

    # The healthy receiver had its message long before the slow one's timeout ran out.
    healthy_id = str(messages[healthy.pk].pk)
    assert receiver.held[healthy_id].at - started < 1.2
    assert first_round < 3.5  # cut off at the timeout, not after the slow answer
    assert Message.objects.get(pk=healthy_id).state == MessageState.SENT
    waiting = Message.objects.get(pk=messages[failing.pk].pk)
    assert (waiting.state, waiting.attempts, waiting.last_error) == (
        MessageState.PENDING,
        1,
        "webhook: HTTP 500: {}",
    )

    deliver_everything()

    timed_out = Message.objects.get(pk=messages[slow.pk].pk)
    failed = Message.objects.get(pk=messages[failing.pk].pk)
    assert (timed_out.state, timed_out.attempts, timed_out.last_error) == (
        MessageState.DEAD,
        3,
        "webhook: no answer within 1.5 s",
    )
    assert (failed.state, failed.attempts) == (MessageState.DEAD, 3)
    assert receiver.count(healthy_id) == 1
    assert receiver.count(str(failed.pk)) == 3


def test_a_failed_delivery_waits_with_backoff(
    world: World, receiver: WebhookReceiver, settings: SettingsWrapper
) -> None:
    settings.NOTIFY_RETRY_BASE_SECONDS = 20.0
    add_webhook(receiver, world.units["polri:16.08"], "/fail")
    [message] = tell_webhooks("16.08.01", 1)
    before = time.time()
    assert services.deliver_due(worker="test") == 1
    waiting = Message.objects.get(pk=message.pk)
    assert waiting.state == MessageState.PENDING
    assert waiting.next_attempt_at is not None
    delay = waiting.next_attempt_at.timestamp() - before
    assert 10.0 - 0.5 <= delay <= 20.0 + 2.0
    assert waiting.lease_until is None
    assert services.deliver_due(worker="test") == 0  # not due yet


def test_email_goes_through_smtp(
    guard_okut: User, smtp_server: _Mailbox, settings: SettingsWrapper
) -> None:
    settings.DEFAULT_FROM_EMAIL = "SIAGA OKU Timur <siaga@okut.example>"
    services.add_endpoint(actor=guard_okut, channel="email", address="jaga@okut.example")
    messages = tell(guard_okut, 3, title="[SIAGA] Api di Gudang A")
    outbox_id = str(messages[1].pk)

    assert deliver_everything() == 1

    [(sender, recipients, email)] = smtp_server.messages
    assert sender == "siaga@okut.example"
    assert recipients == ["jaga@okut.example"]
    assert email["Subject"] == "[SIAGA] Api di Gudang A"
    assert email["X-Siaga-Message-Id"] == outbox_id
    payload = email.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode()
    assert "Isi pemberitahuan." in text
    assert "http://127.0.0.1:8000/insiden/3/" in text
    assert Message.objects.get(pk=outbox_id).state == MessageState.SENT


def test_an_unreachable_smtp_server_is_retried(guard_okut: User, settings: SettingsWrapper) -> None:
    from tests.notify.conftest import free_port

    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    services.add_endpoint(actor=guard_okut, channel="email", address="jaga@okut.example")
    messages = tell(guard_okut, 1)
    assert services.deliver_due(worker="test") == 1
    waiting = Message.objects.get(pk=messages[1].pk)
    assert waiting.state == MessageState.PENDING
    assert waiting.last_error.startswith("e-mail: ConnectionRefusedError")


def test_an_admin_sends_a_dead_letter_again_and_it_arrives(
    world: World, receiver: WebhookReceiver, quick_retries: SettingsWrapper, admin_okut: User
) -> None:
    endpoint = add_webhook(receiver, world.units["polri:16.08"], "/fail")
    [message] = tell_webhooks("16.08.01", 1)
    deliver_everything()
    assert Message.objects.get(pk=message.pk).state == MessageState.DEAD

    # The receiver is repaired.
    endpoint.address = receiver.endpoint_url("/ok")
    endpoint.save()
    receiver.secrets["/ok"] = endpoint.secret
    again = services.retry_message(message, actor=admin_okut)
    assert (again.state, again.attempts) == (MessageState.PENDING, 0)
    assert services.retry_message(message, actor=admin_okut).state == MessageState.PENDING

    assert deliver_everything() == 1
    sent = Message.objects.get(pk=message.pk)
    assert (sent.state, sent.attempts, sent.last_error) == (MessageState.SENT, 1, "")
    assert receiver.count(str(message.pk)) == 4  # three failures, one success
    with pytest.raises(Conflict) as caught:
        services.retry_message(sent, actor=admin_okut)
    assert caught.value.code == "message_not_dead"


def test_only_admins_in_scope_may_send_a_dead_letter_again(
    world: World,
    receiver: WebhookReceiver,
    quick_retries: SettingsWrapper,
    admin_oku: User,
    operator_okut: User,
) -> None:
    add_webhook(receiver, world.units["polri:16.08"], "/fail")
    [message] = tell_webhooks("16.08.01", 1)
    deliver_everything()
    with pytest.raises(NotFound):
        services.retry_message(message, actor=admin_oku)
    with pytest.raises(PermissionDenied):
        services.retry_message(message, actor=operator_okut)
    assert Message.objects.get(pk=message.pk).state == MessageState.DEAD


def test_outgoing_ids_are_the_message_ids(world: World, receiver: WebhookReceiver) -> None:
    add_webhook(receiver, world.units["polri:16.08"], "/ok")
    [message] = tell_webhooks("16.08.01", 1)
    [claimed] = services.claim_due(worker="test")
    assert claimed.id == message.pk
    assert isinstance(claimed.id, uuid.UUID)

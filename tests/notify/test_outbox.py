"""The outbox: who gets which message, de-duplication, grouping, and the transaction rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from siaga.accounts.models import User
from siaga.core.errors import InvalidInput
from siaga.notify import services
from siaga.notify.choices import Channel, MessageState
from siaga.notify.models import Endpoint, Message
from tests.conftest import World
from tests.notify.conftest import (
    FakeTelegram,
    WebhookReceiver,
    add_webhook,
    deliver_everything,
    tell,
    tell_webhooks,
    unit_at,
)

pytestmark = pytest.mark.django_db


def test_a_user_gets_an_inbox_message_and_one_per_active_endpoint(guard_okut: User) -> None:
    mail = services.add_endpoint(actor=guard_okut, channel="email", address="jaga@OKUT.example")
    chat = services.add_endpoint(actor=guard_okut, channel="telegram", address=" -100200300 ")
    gone = services.add_endpoint(actor=guard_okut, channel="telegram", address="42")
    services.remove_endpoint(actor=guard_okut, endpoint_id=gone.obj.pk)

    messages = tell(guard_okut, 1, data={"site": "GUDANG-16.08"}, about=("incidents.incident", "x"))

    assert [(m.channel, m.state, m.endpoint_id) for m in messages] == [
        (Channel.INAPP, MessageState.SENT, None),
        (Channel.EMAIL, MessageState.PENDING, mail.obj.pk),
        (Channel.TELEGRAM, MessageState.PENDING, chat.obj.pk),
    ]
    assert mail.obj.address == "jaga@okut.example"
    assert chat.obj.address == "-100200300"
    inbox = Message.objects.inbox_of(guard_okut).get()
    assert (inbox.title, inbox.url, inbox.data, inbox.about) == (
        "Pemberitahuan 1",
        "/insiden/1/",
        {"site": "GUDANG-16.08"},
        ("incidents.incident", "x"),
    )
    assert Message.objects.filter(endpoint=gone.obj).count() == 0


def test_the_account_email_serves_until_the_person_removes_it(
    operator_okut: User, settings: SettingsWrapper
) -> None:
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    operator_okut.email = "kpu@okut.example"
    operator_okut.save()
    first = tell(operator_okut, 1)
    assert [m.channel for m in first] == [Channel.INAPP, Channel.EMAIL]
    endpoint = Endpoint.objects.get(user=operator_okut)
    assert (endpoint.channel, endpoint.address, endpoint.active) == (
        "email",
        "kpu@okut.example",
        True,
    )

    services.remove_endpoint(actor=operator_okut, endpoint_id=endpoint.pk)
    second = tell(operator_okut, 2)
    assert [m.channel for m in second] == [Channel.INAPP]
    assert Endpoint.objects.filter(user=operator_okut).count() == 1


def test_without_a_mailer_the_account_email_is_not_used_and_email_is_a_dead_letter(
    operator_okut: User, settings: SettingsWrapper
) -> None:
    settings.MAILERS = {}  # no SIAGA_EMAIL_HOST
    operator_okut.email = "kpu@okut.example"
    operator_okut.save()
    assert [m.channel for m in tell(operator_okut, 1)] == [Channel.INAPP]
    assert Endpoint.objects.filter(user=operator_okut).count() == 0

    services.add_endpoint(actor=operator_okut, channel="email", address="kpu@okut.example")
    [_inbox, email] = tell(operator_okut, 2)
    assert deliver_everything() == 1
    dead = Message.objects.get(pk=email.pk)
    assert (dead.state, dead.attempts, dead.last_error) == (
        MessageState.DEAD,
        1,
        "email_not_configured: SIAGA_EMAIL_HOST is not set for the worker",
    )


def test_a_deactivated_account_is_told_nothing(guard_okut: User) -> None:
    guard_okut.is_active = False
    guard_okut.save()
    assert tell(guard_okut, 1) == []
    assert Message.objects.filter(user=guard_okut).count() == 0


def test_the_same_dedup_key_returns_the_existing_message(guard_okut: User) -> None:
    services.add_endpoint(actor=guard_okut, channel="telegram", address="777")
    first = tell(guard_okut, 1)
    again = tell(guard_okut, 1, title="Another title")
    assert [m.pk for m in again] == [m.pk for m in first]
    assert Message.objects.filter(user=guard_okut).count() == 2
    assert set(Message.objects.values_list("title", flat=True)) == {"Pemberitahuan 1"}


def test_webhooks_reach_units_whose_region_covers_the_place(
    world: World, receiver: WebhookReceiver
) -> None:
    province = add_webhook(receiver, unit_at("16", "pemda"), "/ok")
    polres = add_webhook(receiver, world.units["polri:16.08"], "/ok-okut")
    add_webhook(receiver, world.units["polri:16.01"], "/ok-oku")
    removed = add_webhook(receiver, world.units["kpu:16.08"], "/removed")
    removed.active = False
    removed.save()

    messages = tell_webhooks("16.08.01", 1)

    assert sorted(m.endpoint_id for m in messages) == sorted([province.pk, polres.pk])
    assert all(m.user_id is None and m.state == MessageState.PENDING for m in messages)
    with pytest.raises(InvalidInput) as caught:
        tell_webhooks("16.8", 2)
    assert caught.value.code == "region_code_malformed"


def test_ten_notifications_of_one_group_make_one_delivery_with_count_ten(
    world: World, receiver: WebhookReceiver
) -> None:
    endpoint = add_webhook(receiver, world.units["polri:16.08"], "/ok")
    for n in range(10):
        tell_webhooks("16.08.01", n, dedup_key=f"alarm:flap:{n}", group_key="alarm:gudang-a:smoke")

    assert deliver_everything() == 1

    assert len(receiver.requests) == 1
    payload = next(iter(receiver.held.values())).payload
    assert payload["count"] == 10
    assert payload["title"] == "Insiden 9"  # the latest word on the matter
    head = Message.objects.get(endpoint=endpoint, grouped_into__isnull=True)
    assert (head.state, head.count, head.dedup_key) == (MessageState.SENT, 10, "alarm:flap:0")
    assert Message.objects.filter(grouped_into=head, state=MessageState.GROUPED).count() == 9
    # Each notification keeps its own de-duplication: a repeat changes nothing.
    tell_webhooks("16.08.01", 4, dedup_key="alarm:flap:4", group_key="alarm:gudang-a:smoke")
    assert Message.objects.get(pk=head.pk).count == 10


def test_after_a_delivery_the_group_waits_for_the_end_of_the_window(
    world: World, receiver: WebhookReceiver, settings: SettingsWrapper
) -> None:
    settings.NOTIFY_GROUP_WINDOW_SECONDS = 300
    endpoint = add_webhook(receiver, world.units["polri:16.08"], "/ok")
    tell_webhooks("16.08.01", 1, dedup_key="a", group_key="g")
    assert deliver_everything() == 1
    first = Message.objects.get(endpoint=endpoint, dedup_key="a")
    assert first.sent_at is not None

    tell_webhooks("16.08.01", 2, dedup_key="b", group_key="g")
    tell_webhooks("16.08.01", 3, dedup_key="c", group_key="g")
    tell_webhooks("16.08.01", 4, dedup_key="other", group_key="another group")

    assert deliver_everything() == 1  # only the other group's message is due
    follow_up = Message.objects.get(endpoint=endpoint, dedup_key="b")
    assert follow_up.state == MessageState.PENDING
    assert follow_up.count == 2
    assert follow_up.next_attempt_at == first.sent_at + timedelta(seconds=300)
    assert [p for p, _id, _s in receiver.requests] == ["/ok", "/ok"]


def test_in_app_messages_of_one_group_are_one_unread_line(guard_okut: User) -> None:
    for n in range(3):
        tell(guard_okut, n, group_key="incident:1")
    inbox = list(Message.objects.inbox_of(guard_okut))
    assert [(m.count, m.title) for m in inbox] == [(3, "Pemberitahuan 2")]
    assert Message.objects.unread_count(guard_okut) == 1
    services.mark_read(actor=guard_okut, message_id=inbox[0].pk)
    tell(guard_okut, 9, group_key="incident:1")  # read: the next one is a line of its own
    assert [m.count for m in Message.objects.inbox_of(guard_okut)] == [1, 3]


def test_telegram_sends_the_text_and_dead_letters_a_missing_chat(
    guard_okut: User, telegram: FakeTelegram
) -> None:
    services.add_endpoint(actor=guard_okut, channel="telegram", address="555")
    services.add_endpoint(actor=guard_okut, channel="telegram", address="-1009999999999")
    tell(guard_okut, 1)

    assert deliver_everything() == 2

    assert telegram.calls == [
        {
            "chat_id": 555,
            "text": "Pemberitahuan 1\n\nIsi pemberitahuan.\n\nhttp://127.0.0.1:8000/insiden/1/",
            "disable_web_page_preview": True,
        }
    ]
    sent = Message.objects.get(endpoint__address="555")
    dead = Message.objects.get(endpoint__address="-1009999999999")
    assert (sent.state, sent.attempts, sent.last_error) == (MessageState.SENT, 1, "")
    assert (dead.state, dead.attempts, dead.last_error) == (
        MessageState.DEAD,
        1,
        "Bad Request: chat not found",
    )
    assert Endpoint.objects.get(address="-1009999999999").last_error == (
        "Bad Request: chat not found"
    )


def test_telegram_without_a_bot_token_is_a_dead_letter_that_says_why(
    guard_okut: User, settings: SettingsWrapper
) -> None:
    settings.TELEGRAM_BOT_TOKEN = ""
    services.add_endpoint(actor=guard_okut, channel="telegram", address="555")
    tell(guard_okut, 1)
    assert deliver_everything() == 1
    dead = Message.objects.get(channel=Channel.TELEGRAM)
    assert dead.state == MessageState.DEAD
    assert dead.last_error.startswith("telegram_not_configured:")


def test_a_removed_endpoint_turns_its_waiting_messages_into_dead_letters(
    guard_okut: User, telegram: FakeTelegram
) -> None:
    chat = services.add_endpoint(actor=guard_okut, channel="telegram", address="555").obj
    tell(guard_okut, 1)
    services.remove_endpoint(actor=guard_okut, endpoint_id=chat.pk)
    assert deliver_everything() == 1
    message = Message.objects.get(endpoint=chat)
    assert (message.state, message.last_error) == (
        MessageState.DEAD,
        "endpoint_removed: the endpoint was removed",
    )
    assert telegram.calls == []


def test_a_lease_keeps_others_off_and_only_its_owner_may_mark_the_message(
    world: World, receiver: WebhookReceiver, settings: SettingsWrapper
) -> None:
    settings.NOTIFY_LEASE_SECONDS = 30
    add_webhook(receiver, world.units["polri:16.08"], "/ok")
    [message] = tell_webhooks("16.08.01", 1)

    [first] = services.claim_due(worker="a")
    assert services.claim_due(worker="b") == []
    leased = Message.objects.get(pk=message.pk)
    assert leased.lease_owner == first.lease_owner
    assert leased.lease_owner.startswith("a/")
    assert leased.next_attempt_at == leased.lease_until
    assert leased.attempts == 1

    # Worker "a" stalls past its lease; "b" takes the message over.
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    [second] = services.claim_due(worker="b")
    assert services.record_outcomes([(first, None)]) == {
        "sent": 0,
        "retry": 0,
        "dead": 0,
        "lost": 1,
        "released": 0,
    }
    assert Message.objects.get(pk=message.pk).state == MessageState.PENDING
    assert services.record_outcomes([(second, None)])["sent"] == 1
    done = Message.objects.get(pk=message.pk)
    assert (done.state, done.attempts, done.lease_until) == (MessageState.SENT, 2, None)


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap(
    settings: SettingsWrapper,
) -> None:
    settings.NOTIFY_RETRY_BASE_SECONDS = 10.0
    settings.NOTIFY_RETRY_MAX_SECONDS = 100.0
    for attempts, ceiling in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 100.0), (9, 100.0)]:
        delays = [services.retry_delay(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempts
        assert len(set(delays)) > 1  # jitter: workers that failed together do not retry together


def test_notify_input_mistakes_are_programming_errors(guard_okut: User) -> None:
    mistakes: list[dict[str, Any]] = [
        {"url": "https://elsewhere.example/"},
        {"url": "//elsewhere.example/"},
        {"dedup_key": ""},
        {"kind": "k" * 61},
        {"data": {"when": object()}},
    ]
    for bad in mistakes:
        with pytest.raises(services.NotifyUsageError), transaction.atomic():
            tell(guard_okut, 1, **bad)
    assert Message.objects.count() == 0


def test_long_titles_are_shortened_and_kept_on_one_line(guard_okut: User) -> None:
    [message] = tell(guard_okut, 1, title="Banjir\n" + "x" * 400)
    assert len(message.title) == 300
    assert message.title.startswith("Banjir x")
    assert message.title.endswith("…")

"""Every notification, alarm title and timeline line reaches its reader in their language:
Bahasa Indonesia unless they chose English, with no English left in the Indonesian one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import trans_real

from siaga.accounts.models import User
from siaga.alarms import services as alarms
from siaga.alarms.models import Alarm
from siaga.core import i18n
from siaga.incidents import services as incidents
from siaga.incidents.choices import EventKind
from siaga.incidents.models import Incident, IncidentEvent
from siaga.notify import services as notify
from siaga.notify.choices import Channel
from siaga.notify.models import Endpoint, Message
from tests.conftest import World
from tests.incidents.conftest import Posts

pytestmark = pytest.mark.django_db


def untranslated(tree: Any) -> list[str | tuple[str, str]]:
    """The msgids of ``tree`` that the compiled Indonesian catalogue does not translate."""
    catalog = trans_real.translation("id")._catalog  # type: ignore[attr-defined]
    missing = []
    for msgid in i18n.msgids(tree):
        key = (msgid[0], 0) if isinstance(msgid, tuple) else msgid
        try:
            found = catalog[key]
        except KeyError:
            found = ""
        if not found:
            missing.append(msgid)
    return missing


def every_kind(world: World, posts: Posts, guard: User) -> tuple[Incident, list[Message]]:
    """Run each flow that notifies, as the services run it: an incident reported, reminded,
    escalated, assigned, acknowledged and resolved; an alarm raised and reminded."""
    now = timezone.now()
    incident = incidents.report_incident(
        actor=guard,
        category="kebakaran",
        severity=1,
        site_id=world.warehouse_okut.pk,
        zone_id=world.hall_a_okut.pk,
        description="Asap dari panel listrik Gudang A.",
        now=now,
    ).incident
    incidents.escalate_due(now + timedelta(minutes=2, seconds=1))  # a reminder of tier 1
    incidents.escalate_due(now + timedelta(minutes=6))  # tier 2 told
    incidents.assign_responder(
        actor=posts.kapolres, incident_id=incident.pk, user_id=posts.kabag_ops.pk
    )
    incidents.acknowledge_incident(actor=posts.kapolres, incident_id=incident.pk)
    incidents.resolve_incident(
        actor=posts.kapolres, incident_id=incident.pk, resolution="Panel diganti."
    )
    humid = alarms.raise_alarm(
        source="hazards",
        key="sensor:HUM-B-02",
        kind="humidity_high",
        site=world.warehouse_okut,
        severity="warning",
        message=i18n.text("Humidity too high"),
    )
    Alarm.objects.filter(pk=humid.pk).update(next_reminder_at=now)
    alarms.remind_due_alarms(now + timedelta(seconds=1))
    return incident, list(Message.objects.filter(channel=Channel.INAPP).order_by("created_at"))


KINDS = {
    "incident.escalation",
    "incident.assigned",
    "incident.ack",
    "incident.resolved",
    "alarm.raised",
    "alarm.reminder-1",
}


def test_every_notification_kind_is_indonesian_by_default(
    world: World, posts: Posts, guard_okut: User, settings: Any
) -> None:
    settings.NOTIFY_GROUP_WINDOW_SECONDS = 0  # each kind its own message, none merged
    _incident, messages = every_kind(world, posts, guard_okut)
    assert {m.kind for m in messages} == KINDS
    titles = {m.display_title for m in messages}
    assert any(t.startswith("PENGINGAT") for t in titles), titles
    for message in messages:
        assert message.text, message.kind  # kept as a tree, not frozen text
        assert untranslated(message.text["title"]) == [], message.kind
        assert untranslated(message.text["body"]) == [], message.kind
        title_en, body_en = message.rendered("en")
        title_id, body_id = message.rendered("id")
        assert (title_id, body_id) == (message.title, message.body)  # stored in Indonesian
        assert title_id != title_en, message.kind
        if isinstance(message.text["body"], dict):
            assert body_id != body_en, message.kind


def test_the_escalation_body_has_no_english_line(
    world: World, posts: Posts, guard_okut: User
) -> None:
    every_kind(world, posts, guard_okut)
    message = Message.objects.filter(kind="incident.escalation", user=posts.kapolres).first()
    assert message is not None
    body = message.display_body
    for english in ("Where:", "When:", "Reported by:", "Acknowledge within"):
        assert english not in body
    assert "Dilaporkan oleh: " + guard_okut.display_name in body
    assert message.rendered("en")[1].splitlines()[-1] == "Acknowledge within 5 minutes."


def test_every_timeline_line_is_rendered_in_the_readers_language(
    world: World, posts: Posts, guard_okut: User
) -> None:
    incident, _messages = every_kind(world, posts, guard_okut)
    system = IncidentEvent.objects.filter(
        incident=incident, kind__in=[EventKind.ESCALATED, EventKind.REMINDED]
    ).order_by("at", "id")
    lines = {}
    for event in system:
        with translation.override("en"):
            english = event.display_text
        with translation.override("id"):
            lines[english] = event.display_text
    assert lines == {
        "Tier 1 told: 3 people": "Tingkat 1 diberi tahu: 3 orang",
        "Reminder 1: still unacknowledged": "Pengingat 1: masih belum diakui",
        "Nobody acknowledged within 5 minutes: tier 2 told (2 people)": (
            "Tidak ada yang mengakui dalam 5 menit: tingkat 2 diberi tahu (2 orang)"
        ),
    }


def test_a_person_who_chose_english_gets_english_on_their_endpoint(
    world: World, guard_okut: User, operator_okut: User
) -> None:
    User.objects.filter(pk=operator_okut.pk).update(language="en")
    for user in (guard_okut, operator_okut):
        Endpoint.objects.create(user=user, channel=Channel.TELEGRAM, address=str(1000 + user.pk))
    alarms.raise_alarm(
        source="hazards",
        key="sensor:HUM-B-02",
        kind="humidity_high",
        site=world.warehouse_okut,
        severity="warning",
        message=i18n.text("Humidity too high"),
    )
    sent = {o.address: o for o in notify.claim_due(limit=100, worker="test")}
    to_guard, to_operator = sent[str(1000 + guard_okut.pk)], sent[str(1000 + operator_okut.pk)]
    assert to_guard.title == "[SIAGA] Alarm Peringatan: Kelembapan terlalu tinggi"
    assert to_guard.language == "id"
    assert to_operator.title == "[SIAGA] Alarm Warning: Humidity too high"
    assert to_operator.language == "en"


def test_the_check_fails_on_an_untranslated_string() -> None:
    tree = i18n.lines(
        i18n.text("Reminder %(n)s: still unacknowledged", n=1),
        i18n.text("A sentence nobody translated"),
    )
    assert untranslated(tree) == ["A sentence nobody translated"]


def test_a_tree_that_is_not_json_is_refused(guard_okut: User) -> None:
    with transaction.atomic(), pytest.raises(notify.NotifyUsageError):
        notify.notify_user(
            guard_okut,
            kind="test",
            title={"msgid": "%(x)s", "params": {"x": object()}},
            body="",
            dedup_key="t",
        )


def test_the_alarm_console_names_kinds_not_codes(
    client_for: Any, world: World, operator_okut: User
) -> None:
    alarms.raise_alarm(
        source="hazards",
        key="sensor:HUM-B-02",
        kind="humidity_high",
        site=world.warehouse_okut,
        severity="warning",
        message=i18n.text("Humidity too high"),
    )
    html = client_for(operator_okut).get("/alarm/").content.decode()
    assert 'data-kind="hazards/humidity_high">Kelembapan terlalu tinggi</span>' in html
    assert ">hazards/humidity_high<" not in html

"""The gate's notifications (a guest waiting, approved, denied) reach their readers in their
language: Bahasa Indonesia by default, every msgid translated, English for who chose it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import translation

from siaga.access import services
from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.core import i18n
from siaga.core.errors import PermissionDenied
from siaga.notify.choices import Channel
from siaga.notify.models import Message
from tests.access.conftest import DAY, NIK_JOURNALIST, NIK_SUSPECT, Gate, visit_for
from tests.incidents.test_languages import untranslated

pytestmark = pytest.mark.django_db


def test_waiting_approved_and_denied_are_indonesian_and_english_on_request(
    gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    # After hours, so that the waiting message carries its second sentence too.
    late = DAY.replace(hour=20)
    waiting = visit_for(gate, guard_okut, walk_in=True, host=operator_okut, start=late, now=late)
    services.approve_visit(actor=operator_okut, visit_id=waiting.pk, now=late)
    denied = visit_for(
        gate,
        guard_okut,
        nik=NIK_JOURNALIST,
        name="Nadia Putri",
        walk_in=True,
        host=operator_okut,
        start=late,
        now=late,
    )
    services.deny_visit(
        actor=operator_okut, visit_id=denied.pk, reason="Tanpa surat tugas", now=late
    )
    messages = {
        (m.kind, m.user.username if m.user else ""): m
        for m in Message.objects.filter(channel=Channel.INAPP, kind__startswith="visit.")
    }
    assert {("visit.requested", "kpu.okut"), ("visit.approved", "jaga.okut")} <= set(messages)
    assert ("visit.denied", "jaga.okut") in messages
    for message in messages.values():
        assert message.text, message.kind
        assert untranslated(message.text["title"]) == [], message.kind
        assert untranslated(message.text["body"]) == [], message.kind
        title_id, body_id = message.rendered("id")
        title_en, body_en = message.rendered("en")
        assert title_id != title_en, message.kind
    asked = messages[("visit.requested", "kpu.okut")]
    assert asked.rendered("en")[0] == "[SIAGA] Guest waiting at the gate: Andi Sopir"
    assert "Guest" not in asked.rendered("id")[0] and "Andi Sopir" in asked.rendered("id")[0]
    body_id, body_en = asked.rendered("id")[1], asked.rendered("en")[1]
    assert "After hours" in body_en and "After hours" not in body_id
    assert messages[("visit.denied", "jaga.okut")].rendered("id")[1] == "Tanpa surat tugas"


def _alarms_of_the_gate(
    gate: Gate, guard_okut: User, operator_okut: User, kapolres_okut: User
) -> dict[str, Alarm]:
    """The gate's three alarms, raised as the services raise them: a guest overstaying, a
    watchlisted person at the gate, and a storage zone left without its two officers."""
    overstaying = visit_for(gate, operator_okut, hours=1)
    services.check_in(actor=guard_okut, id=uuid.uuid4(), visit_id=overstaying.pk, now=DAY)
    services.flag_overstays(DAY + dt.timedelta(minutes=75))
    operator_in = services.check_in(
        actor=guard_okut,
        id=uuid.uuid4(),
        badge=gate.operator_pass.qr_payload,
        zone_id=gate.gate_zone.pk,
        now=DAY,
    )
    guard_in = services.check_in(
        actor=guard_okut, id=uuid.uuid4(), badge=gate.guard_pass.qr_payload, now=DAY
    )
    guest = visit_for(
        gate, operator_okut, nik=NIK_JOURNALIST, name="Nadia Putri", zones=[gate.hall]
    )
    services.check_in(
        actor=guard_okut,
        id=uuid.uuid4(),
        visit_id=guest.pk,
        zone_id=gate.hall.pk,
        companion_ids=[operator_in.obj.visitor_id, guard_in.obj.visitor_id],
        now=DAY,
    )
    services.check_in(
        actor=guard_okut,
        id=uuid.uuid4(),
        badge=gate.guard_pass.qr_payload,
        zone_id=gate.gate_zone.pk,
        now=DAY,
    )
    services.set_watchlist(
        actor=kapolres_okut, nik=NIK_SUSPECT, name="Budi", listed=True, reason="DPO"
    )
    with pytest.raises(PermissionDenied):
        visit_for(gate, guard_okut, nik=NIK_SUSPECT, walk_in=True, host=operator_okut)
    return {a.kind: a for a in Alarm.objects.filter(source="access", active=True)}


def test_the_gates_alarms_are_indonesian_and_english_on_request(
    gate: Gate,
    guard_okut: User,
    operator_okut: User,
    kapolres_okut: User,
    client_for: Any,
) -> None:
    raised = _alarms_of_the_gate(gate, guard_okut, operator_okut, kapolres_okut)
    assert set(raised) == {"overstay", "watchlist", "unguarded_zone"}
    english = {
        "overstay": "is still inside, 15 minutes past the planned end",
        "watchlist": "Watchlisted person at the gate: Budi (",
        "unguarded_zone": "inside without both a KPU officer and a Polri or Bawaslu officer",
    }
    for kind, alarm in raised.items():
        assert alarm.message_text, kind
        assert untranslated(alarm.message_text) == [], kind
        assert english[kind] in i18n.render(alarm.message_text, "en"), kind
        assert english[kind] not in alarm.message, kind  # stored in Bahasa Indonesia
        assert i18n.render(alarm.message_text, "id") == alarm.message, kind
    # The API answers in the client's language.
    client = client_for(kapolres_okut)
    for language in ("en", "id"):
        answer = client.get("/api/v1/alarms?active=true", HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == 200
        messages = {item["kind"]: item["message"] for item in answer.json()["items"]}
        for kind, alarm in raised.items():
            assert messages[kind] == i18n.render(alarm.message_text, language), (kind, language)
    # The watchlist alarm opened an incident: its description and first timeline line are the
    # alarm's words, in the reader's language.
    incident = raised["watchlist"].incident
    assert incident is not None
    for language in ("en", "id"):
        answer = client.get(f"/api/v1/incidents/{incident.pk}", HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == 200
        assert answer.json()["description"] == i18n.render(
            raised["watchlist"].message_text, language
        )
        with translation.override(language):
            first = incident.events.order_by("at", "id").first()
            assert first is not None
            assert first.display_text == i18n.render(raised["watchlist"].message_text)

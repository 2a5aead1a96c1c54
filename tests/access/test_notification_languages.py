"""The gate's notifications (a guest waiting, approved, denied) reach their readers in their
language: Bahasa Indonesia by default, every msgid translated, English for who chose it."""

from __future__ import annotations

import pytest

from siaga.access import services
from siaga.accounts.models import User
from siaga.notify.choices import Channel
from siaga.notify.models import Message
from tests.access.conftest import DAY, NIK_JOURNALIST, Gate, visit_for
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

"""The escalation sweep runs in ``siaga worker``: several workers escalate an incident once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from siaga.accounts.models import User
from siaga.incidents import services
from siaga.incidents.choices import EventKind
from siaga.incidents.models import Incident, Notified
from tests.conftest import World
from tests.core.test_worker import start_worker
from tests.incidents.conftest import Posts


@pytest.mark.django_db(transaction=True)
def test_workers_escalate_an_overdue_incident_exactly_once(
    world: World, guard_okut: User, posts: Posts
) -> None:
    incident = services.report_incident(
        actor=guard_okut, category="kebakaran", severity=1, site_id=world.warehouse_okut.pk
    ).incident
    # Nobody acknowledged for six minutes.
    past = timezone.now() - timedelta(minutes=6)
    Incident.objects.filter(pk=incident.pk).update(tier_started_at=past, next_escalation_at=past)
    workers = [start_worker(), start_worker(), start_worker()]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0]
    incident.refresh_from_db()
    assert incident.tier == 2
    assert incident.events.filter(kind=EventKind.ESCALATED).count() == 2  # tier 1, then tier 2
    assert Notified.objects.get(incident=incident, user=posts.kabag_ops).times == 1
    assert incident.next_escalation_at is not None and incident.next_escalation_at > past

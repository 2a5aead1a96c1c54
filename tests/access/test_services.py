"""The gate's rules, through the services: visits, approvals, the two-person rule, after hours,
the watchlist, occupancy, idempotent gate events, overstay and expiry."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from siaga.access import services
from siaga.access.choices import GateEventKind, VisitState
from siaga.access.models import GateEvent, Presence, SiteRules, Visit, Visitor
from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.core.errors import Conflict, InvalidInput, PermissionDenied
from siaga.ledger.models import Entry
from tests.access.conftest import (
    DAY,
    NIGHT,
    NIK_DRIVER,
    NIK_JOURNALIST,
    NIK_SUSPECT,
    Gate,
    visit_for,
)

pytestmark = pytest.mark.django_db


def _in(actor: User, **kwargs: object) -> GateEvent:
    kwargs.setdefault("now", DAY)
    return services.check_in(actor=actor, id=uuid.uuid4(), **kwargs).obj  # type: ignore[arg-type]


def _badge(gate: Gate, who: str) -> str:
    return getattr(gate, f"{who}_pass").qr_payload


def test_host_preregistration_is_approved_and_guest_checks_in_and_out(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    visit = visit_for(gate, operator_okut)
    assert visit.state == VisitState.APPROVED
    assert visit.host == operator_okut
    event = _in(guard_okut, visit_id=visit.pk, zone_id=gate.gate_zone.pk, vehicle_plate="bg1234ab")
    assert event.kind == GateEventKind.CHECK_IN
    assert event.vehicle_plate == "BG 1234 AB"
    assert event.ledger_seq is not None
    assert Entry.objects.get(seq=event.ledger_seq).kind == "access.gate.check_in"
    presence = Presence.objects.get(visitor=visit.visitor)
    assert (presence.site, presence.zone) == (gate.site, gate.gate_zone)
    visit.refresh_from_db()
    assert visit.state == VisitState.CHECKED_IN
    out = services.check_out(
        actor=guard_okut, id=uuid.uuid4(), visit_id=visit.pk, now=DAY + dt.timedelta(minutes=40)
    ).obj
    assert out.kind == GateEventKind.CHECK_OUT
    assert out.from_zone == gate.gate_zone
    assert not Presence.objects.filter(visitor=visit.visitor).exists()
    visit.refresh_from_db()
    assert visit.state == VisitState.CHECKED_OUT


def test_duplicate_check_in_is_the_same_event_and_one_ledger_entry(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    visit = visit_for(gate, operator_okut)
    event_id = uuid.uuid4()
    first = services.check_in(actor=guard_okut, id=event_id, visit_id=visit.pk, now=DAY)
    again = services.check_in(actor=guard_okut, id=event_id, visit_id=visit.pk, now=DAY)
    assert (first.created, again.created) == (True, False)
    assert again.obj.pk == first.obj.pk
    assert GateEvent.objects.filter(visitor=visit.visitor).count() == 1
    assert Entry.objects.filter(kind="access.gate.check_in", subject_id=str(event_id)).count() == 1


def test_check_out_of_someone_not_inside_is_refused(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    visit = visit_for(gate, operator_okut)
    before = Entry.objects.count()
    with pytest.raises(Conflict) as refused:
        services.check_out(actor=guard_okut, id=uuid.uuid4(), visit_id=visit.pk, now=DAY)
    assert refused.value.code == "not_inside"
    assert GateEvent.objects.count() == 0
    assert Entry.objects.count() == before


@pytest.mark.parametrize("state", ["requested", "denied", "expired"])
def test_guest_without_approval_is_refused_at_gate(
    gate: Gate, operator_okut: User, guard_okut: User, state: str
) -> None:
    visit = visit_for(gate, guard_okut, walk_in=True, host=operator_okut)
    assert visit.state == VisitState.REQUESTED
    if state == "denied":
        services.deny_visit(actor=operator_okut, visit_id=visit.pk, reason="Tidak ada janji")
    elif state == "expired":
        services.approve_visit(actor=operator_okut, visit_id=visit.pk, now=DAY)
    when = DAY + dt.timedelta(hours=3) if state == "expired" else DAY
    before = Entry.objects.count()
    with pytest.raises(Conflict) as refused:
        _in(guard_okut, visit_id=visit.pk, now=when)
    assert refused.value.code == "visit_not_approved"
    assert refused.value.detail["state"] == state
    assert not Presence.objects.exists()
    assert Entry.objects.count() == before


def test_walk_in_waits_for_the_host_who_approves(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    visit = visit_for(gate, guard_okut, walk_in=True, host=operator_okut)
    assert visit.walk_in and visit.state == VisitState.REQUESTED
    assert list(services.approvals_waiting(operator_okut)) == [visit]
    services.approve_visit(actor=operator_okut, visit_id=visit.pk, now=DAY)
    visit.refresh_from_db()
    assert visit.state == VisitState.APPROVED
    assert visit.decided_by == operator_okut
    assert visit.after_hours_approved_at is None
    assert _in(guard_okut, visit_id=visit.pk).visit == visit


def test_a_guard_may_not_approve(gate: Gate, operator_okut: User, guard_okut: User) -> None:
    visit = visit_for(gate, guard_okut, walk_in=True, host=operator_okut)
    with pytest.raises(PermissionDenied) as refused:
        services.approve_visit(actor=guard_okut, visit_id=visit.pk, now=DAY)
    assert refused.value.code == "approval_not_allowed"
    visit.refresh_from_db()
    assert visit.state == VisitState.REQUESTED


def test_alone_into_storage_is_refused(gate: Gate, operator_okut: User, guard_okut: User) -> None:
    visit = visit_for(gate, operator_okut, zones=[gate.hall, gate.gate_zone])
    with pytest.raises(Conflict) as refused:
        _in(guard_okut, visit_id=visit.pk, zone_id=gate.hall.pk)
    assert refused.value.code == "two_person_rule"
    assert not Presence.objects.exists()
    assert GateEvent.objects.count() == 0


def test_one_officer_is_not_enough_for_storage(gate: Gate, guard_okut: User) -> None:
    _in(guard_okut, badge=_badge(gate, "operator"), zone_id=gate.gate_zone.pk)
    with pytest.raises(Conflict) as refused:
        _in(guard_okut, badge=_badge(gate, "operator"), zone_id=gate.hall.pk)
    assert refused.value.code == "two_person_rule"
    assert refused.value.detail["kpu_present"] is True
    assert refused.value.detail["polri_or_bawaslu_present"] is False


def test_guest_goes_into_storage_with_kpu_and_polri_companions(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    operator_in = _in(guard_okut, badge=_badge(gate, "operator"), zone_id=gate.gate_zone.pk)
    guard_in = _in(guard_okut, badge=_badge(gate, "guard"))
    visit = visit_for(gate, operator_okut, zones=[gate.hall])
    event = _in(
        guard_okut,
        visit_id=visit.pk,
        zone_id=gate.hall.pk,
        companion_ids=[operator_in.visitor_id, guard_in.visitor_id],
    )
    assert {c["officer"] for c in event.companions} == {"kpu", "polri"}
    in_hall = set(Presence.objects.filter(zone=gate.hall).values_list("visitor__name", flat=True))
    assert in_hall == {"Andi Sopir", "Rina Operator", "Bripka Joko"}
    # Each companion's move is its own gate event and ledger entry.
    moves = GateEvent.objects.filter(zone=gate.hall)
    assert moves.count() == 3
    assert all(m.ledger_seq for m in moves)


def test_after_hours_needs_a_commissioner(
    gate: Gate, operator_okut: User, guard_okut: User, commissioner_okut: User
) -> None:
    visit = visit_for(
        gate,
        guard_okut,
        nik=NIK_JOURNALIST,
        name="Sari Jurnalis",
        start=NIGHT,
        walk_in=True,
        host=operator_okut,
    )
    services.approve_visit(actor=operator_okut, visit_id=visit.pk, now=NIGHT)
    with pytest.raises(Conflict) as refused:
        _in(guard_okut, visit_id=visit.pk, now=NIGHT)
    assert refused.value.code == "after_hours"
    assert not Presence.objects.exists()
    services.approve_visit(actor=commissioner_okut, visit_id=visit.pk, now=NIGHT)
    visit.refresh_from_db()
    assert visit.after_hours_approved_by == commissioner_okut
    assert _in(guard_okut, visit_id=visit.pk, now=NIGHT).visit == visit


def test_watchlisted_person_is_refused_and_an_alarm_raised(
    gate: Gate, operator_okut: User, guard_okut: User, kapolres_okut: User
) -> None:
    visit = visit_for(gate, operator_okut, nik=NIK_SUSPECT, name="Budi")
    services.set_watchlist(actor=kapolres_okut, nik=NIK_SUSPECT, listed=True, reason="DPO")
    with pytest.raises(PermissionDenied) as refused:
        _in(guard_okut, visit_id=visit.pk)
    assert refused.value.code == "watchlisted"
    assert not Presence.objects.exists()
    assert GateEvent.objects.count() == 0
    alarm = Alarm.objects.get(source="access", kind="watchlist")
    assert alarm.site == gate.site and alarm.active
    assert alarm.incident is not None  # the policy opens an incident, which escalates
    assert (
        Entry.objects.filter(kind="access.refused", subject_id=str(visit.visitor_id)).count() == 1
    )


def test_watchlisted_walk_in_is_refused_at_registration(
    gate: Gate, guard_okut: User, operator_okut: User, kapolres_okut: User
) -> None:
    services.set_watchlist(
        actor=kapolres_okut, nik=NIK_SUSPECT, name="Budi", listed=True, reason="DPO"
    )
    with pytest.raises(PermissionDenied) as refused:
        visit_for(gate, guard_okut, nik=NIK_SUSPECT, walk_in=True, host=operator_okut)
    assert refused.value.code == "watchlisted"
    assert not Visit.objects.exists()
    assert Alarm.objects.filter(source="access", kind="watchlist", active=True).count() == 1


def test_zone_holds_at_most_the_configured_number(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    SiteRules.objects.create(site=gate.site, max_per_zone=1)
    gate.site.refresh_from_db()
    _in(guard_okut, badge=_badge(gate, "operator"), zone_id=gate.gate_zone.pk)
    with pytest.raises(Conflict) as refused:
        _in(guard_okut, badge=_badge(gate, "guard"), zone_id=gate.gate_zone.pk)
    assert refused.value.code == "zone_full"
    assert Presence.objects.count() == 1


def test_invalid_nik_is_refused_before_anything_is_written(gate: Gate, operator_okut: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        visit_for(gate, operator_okut, nik="1608013205850001")
    assert refused.value.code == "nik_birthdate_invalid"
    assert not Visit.objects.exists()
    assert not Visitor.objects.filter(name="Andi Sopir").exists()


def test_one_person_one_record_however_many_visits(gate: Gate, operator_okut: User) -> None:
    first = visit_for(gate, operator_okut)
    second = visit_for(gate, operator_okut, start=DAY + dt.timedelta(days=1), now=DAY)
    assert first.visitor_id == second.visitor_id
    assert Visitor.objects.by_nik(NIK_DRIVER).count() == 1


def test_overstay_raises_an_alarm_cleared_at_check_out(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    visit = visit_for(gate, operator_okut, hours=1)
    _in(guard_okut, visit_id=visit.pk)
    assert services.flag_overstays(DAY + dt.timedelta(minutes=59)) == 0
    assert services.flag_overstays(DAY + dt.timedelta(minutes=75)) == 1
    assert services.flag_overstays(DAY + dt.timedelta(minutes=90)) == 0  # once
    alarm = Alarm.objects.get(source="access", kind="overstay")
    assert alarm.active and alarm.key == f"overstay:{visit.visitor_id}"
    services.check_out(
        actor=guard_okut, id=uuid.uuid4(), visit_id=visit.pk, now=DAY + dt.timedelta(hours=2)
    )
    alarm.refresh_from_db()
    assert not alarm.active


def test_unused_visits_expire(gate: Gate, operator_okut: User, guard_okut: User) -> None:
    used = visit_for(gate, operator_okut)
    unused = visit_for(gate, operator_okut, nik=NIK_JOURNALIST, name="Sari")
    _in(guard_okut, visit_id=used.pk)
    assert services.expire_visits(DAY + dt.timedelta(hours=3)) == 1
    unused.refresh_from_db()
    used.refresh_from_db()
    assert (unused.state, used.state) == (VisitState.EXPIRED, VisitState.CHECKED_IN)


def test_guard_of_another_site_may_not_check_in(
    gate: Gate, operator_okut: User, kpu_oku: User
) -> None:
    visit = visit_for(gate, operator_okut)
    with pytest.raises(PermissionDenied) as refused:
        _in(kpu_oku, visit_id=visit.pk)
    assert refused.value.code == "gate_out_of_scope"
    assert not Presence.objects.exists()


def test_an_officer_leaving_storage_alone_with_guests_raises_an_unguarded_alarm(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    operator_in = _in(guard_okut, badge=_badge(gate, "operator"), zone_id=gate.gate_zone.pk)
    guard_in = _in(guard_okut, badge=_badge(gate, "guard"))
    visit = visit_for(gate, operator_okut, zones=[gate.hall])
    _in(
        guard_okut,
        visit_id=visit.pk,
        zone_id=gate.hall.pk,
        companion_ids=[operator_in.visitor_id, guard_in.visitor_id],
    )
    assert not Alarm.objects.filter(kind="unguarded_zone").exists()
    # The police officer walks back to the gate: the guest and the KPU officer remain.
    _in(guard_okut, badge=_badge(gate, "guard"), zone_id=gate.gate_zone.pk)
    alarm = Alarm.objects.get(source="access", kind="unguarded_zone", active=True)
    assert (alarm.zone, alarm.key) == (gate.hall, f"unguarded:{gate.hall.pk}")
    # Back in, the pair is whole again and the alarm clears.
    _in(guard_okut, badge=_badge(gate, "guard"), zone_id=gate.hall.pk)
    alarm.refresh_from_db()
    assert not alarm.active
    # Everyone leaving empties the zone: no alarm.
    for visitor_id in (visit.visitor_id, operator_in.visitor_id, guard_in.visitor_id):
        services.check_out(actor=guard_okut, id=uuid.uuid4(), visitor_id=visitor_id, now=DAY)
    assert not Alarm.objects.filter(kind="unguarded_zone", active=True).exists()


def test_a_commissioners_registration_is_approved_for_after_hours_too(
    gate: Gate, commissioner_okut: User, guard_okut: User
) -> None:
    visit = visit_for(
        gate, commissioner_okut, nik=NIK_JOURNALIST, name="Sari", start=NIGHT, now=NIGHT
    )
    assert visit.state == VisitState.APPROVED
    assert visit.after_hours and visit.after_hours_approved_by == commissioner_okut
    assert _in(guard_okut, visit_id=visit.pk, now=NIGHT).visit == visit


def test_an_after_hours_visit_the_host_approved_waits_for_a_commissioner(
    gate: Gate, operator_okut: User, guard_okut: User, commissioner_okut: User
) -> None:
    visit = visit_for(
        gate,
        guard_okut,
        nik=NIK_JOURNALIST,
        name="Sari",
        start=NIGHT,
        walk_in=True,
        host=operator_okut,
        now=NIGHT,
    )
    assert visit.after_hours
    services.approve_visit(actor=operator_okut, visit_id=visit.pk, now=NIGHT)
    assert list(services.approvals_waiting(operator_okut)) == []
    assert list(services.approvals_waiting(commissioner_okut)) == [visit]
    services.approve_visit(actor=commissioner_okut, visit_id=visit.pk, now=NIGHT)
    assert list(services.approvals_waiting(commissioner_okut)) == []

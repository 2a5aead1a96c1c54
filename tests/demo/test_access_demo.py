"""The demo's gate traffic (scenarios 1, 2 and 4), built at fixed times in WIB on top of the
test world, which gets the demo's missing accounts and warehouse zones first (the whole demo
world takes half a minute to build; ``test_demo.py`` runs the real command end to end)."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from siaga.access.choices import GateEventKind, Purpose, VisitState
from siaga.access.models import GateEvent, Presence, StandingPass, Visit, Visitor
from siaga.accounts.models import AgencyUnit, User
from siaga.accounts.nik import validate_nik
from siaga.accounts.services import add_membership
from siaga.alarms.models import Alarm
from siaga.demo.access import (
    DRIVER,
    DRIVER_PHONE_IN_OKU,
    WORKERS,
    GateDay,
    build_gate_day,
    worker,
)
from siaga.demo.world import ACCOUNTS, OKU_TIMUR, WAREHOUSE_ZONES
from siaga.ledger import audit
from siaga.ledger import services as ledger
from siaga.ledger.models import Entry
from siaga.privacy.models import LookupLog
from siaga.sites.models import Site, Zone

WIB = ZoneInfo("Asia/Jakarta")
TUESDAY = dt.date(2026, 10, 13)
WEDNESDAY = dt.date(2026, 10, 14)
SATURDAY = dt.date(2026, 10, 17)
MONDAY = dt.date(2026, 10, 19)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=WIB)


def local(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    return moment.astimezone(WIB)


def add_demo_cast() -> Site:
    """The test world's OKU Timur warehouse gets the demo's zones, and the test personas the
    demo accounts they lack (the chair, the guard commander)."""
    site = Site.objects.get(code="GUDANG-16.08")
    for warehouse in (site, Site.objects.get(code="GUDANG-16.01")):
        for name, kind, restricted in WAREHOUSE_ZONES:
            Zone.objects.get_or_create(
                site=warehouse, name=name, defaults={"kind": kind, "restricted": restricted}
            )
    units = {f"{u.agency.kind}:{u.region_id}": u for u in AgencyUnit.objects.all()}
    for account in ACCOUNTS[1:]:
        if account.region != OKU_TIMUR or User.objects.filter(username=account.username):
            continue
        user = User.objects.create_user(
            username=account.username, first_name=account.first_name, last_name=account.last_name
        )
        add_membership(
            actor=None,
            user=user,
            unit=units[f"{account.agency}:{account.region}"],
            role=account.role,
        )
    return site


@pytest.fixture
def warehouse(db: None) -> Site:
    return add_demo_cast()


@pytest.fixture(scope="class")
def wednesday_morning(django_db_setup: None, django_db_blocker: Any) -> Iterator[GateDay]:
    """One build at Wednesday 10:30, shared by the tests of a class that only read it, in a
    transaction rolled back after the last of them (each test's own is a savepoint in it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        add_demo_cast()
        yield build_gate_day(at(WEDNESDAY, 10, 30))
        transaction.set_rollback(True)


def counts() -> dict[str, int]:
    models = (Visit, GateEvent, StandingPass, Visitor, Presence, Alarm, Entry)
    return {model.__name__: model.objects.count() for model in models}


def board() -> dict[str, set[str]]:
    """Who is inside now, by zone ("" for the grounds)."""
    inside: dict[str, set[str]] = {}
    for presence in Presence.objects.select_related("visitor", "zone"):
        zone = presence.zone.name if presence.zone else ""
        inside.setdefault(zone, set()).add(presence.visitor.name)
    return inside


def replayed(site: Site) -> dict[str, str | None]:
    """Who is inside according to the gate events alone: a last check-in, no later check-out."""
    inside: dict[str, str | None] = {}
    for event in GateEvent.objects.filter(site=site).order_by("at", "ledger_seq"):
        if event.kind == GateEventKind.CHECK_IN:
            inside[str(event.visitor_id)] = str(event.zone_id) if event.zone_id else None
        else:
            inside.pop(str(event.visitor_id), None)
    return inside


WORKER_NAMES = {worker(n).name for n in range(1, WORKERS + 1)}


def test_worker_niks_are_valid_distinct_and_from_oku_timur() -> None:
    people = [worker(n) for n in range(1, WORKERS + 1)]
    niks = [validate_nik(p.nik, today=WEDNESDAY) for p in people]
    assert len({n.nik for n in niks}) == WORKERS
    assert len(WORKER_NAMES) == WORKERS
    assert all(n.regency_code == "16.08" and not n.warnings for n in niks)
    assert Counter(n.gender for n in niks) == {"L": 20, "P": 20}
    assert worker(7) == worker(7)


def inside_agrees_with_gate_events(site: Site) -> None:
    presences = Presence.objects.filter(site=site)
    board_ids = {str(p.visitor_id): str(p.zone_id) if p.zone_id else None for p in presences}
    assert board_ids == replayed(site)


def nothing_after(now: dt.datetime) -> None:
    assert not GateEvent.objects.filter(at__gt=now).exists()
    assert not Visit.objects.filter(decided_at__gt=now).exists()
    assert not StandingPass.objects.filter(valid_from__gt=now).exists()


@pytest.mark.django_db
def test_building_the_gate_day_twice_changes_nothing(warehouse: Site) -> None:
    started = time.monotonic()
    first = build_gate_day(at(WEDNESDAY, 10))
    took = time.monotonic() - started
    before = counts()
    again = build_gate_day(at(WEDNESDAY, 10))
    assert counts() == before
    assert first.created and not again.created
    assert (again.day, again.evening) == (first.day, first.evening) == (WEDNESDAY, TUESDAY)
    assert (again.inside, again.gate_events) == (first.inside, first.gate_events)
    assert took < 30, f"the gate day took {took:.1f} s"


def test_the_driver_is_known_in_both_kabupaten_each_with_its_own_record(warehouse: Site) -> None:
    build_gate_day(at(WEDNESDAY, 10))
    records = Visitor.objects.by_nik(DRIVER.nik).order_by("region")
    assert [(v.region, v.name, v.phone) for v in records] == [
        ("16.01", DRIVER.name, "+62" + DRIVER_PHONE_IN_OKU[1:]),
        ("16.08", DRIVER.name, "+62" + DRIVER.phone[1:]),
    ]
    assert len({v.person_id for v in records}) == 1
    # OKU's visit did not touch OKU Timur's record: no change was recorded on it.
    okut = records.get(region="16.08")
    assert not okut.changes.filter(field="phone").exists()
    # The look-up log holds the guard's find and OKU's refusal.
    assert sorted(LookupLog.objects.values_list("username", "answer", "region")) == [
        ("jaga.okut", "found", "16.08"),
        ("kpu.oku", "not_found", "16.01"),
    ]
    oku_visit = Visit.objects.get(visitor__region="16.01")
    assert (oku_visit.site.code, oku_visit.registered_by.username) == ("GUDANG-16.01", "kpu.oku")


@pytest.mark.usefixtures("db", "wednesday_morning")
class TestWednesdayMorning:
    def test_the_printers_truck_is_a_walk_in_the_operator_approves(self) -> None:
        truck = Visit.objects.get(purpose=Purpose.DELIVERY, site__code="GUDANG-16.08")
        assert truck.walk_in and truck.vehicle_plate == "BG 8123 KA"
        assert truck.registered_by.username == "jaga.okut"
        assert truck.decided_by == truck.host
        assert truck.host.username == "kpu.okut"
        assert truck.state == VisitState.CHECKED_OUT
        events = list(GateEvent.objects.filter(visit=truck).order_by("at"))
        assert [(e.kind, local(e.at)) for e in events] == [
            (GateEventKind.CHECK_IN, at(WEDNESDAY, 7, 30)),
            (GateEventKind.CHECK_OUT, at(WEDNESDAY, 8, 10)),
        ]
        assert events[0].vehicle_plate == "BG 8123 KA"
        assert events[0].zone is not None and events[0].zone.name == "Area bongkar muat"
        assert [item["kind"] for item in events[0].items] == ["document", "phone"]

    def test_workers_go_into_the_hall_with_a_kpu_and_a_police_officer(self) -> None:
        passes = StandingPass.objects.filter(kind="worker")
        assert passes.count() == WORKERS
        assert {z.name for p in passes for z in p.zones.all()} == {"Gudang A", "Gudang B"}
        assert {local(p.valid_until) for p in passes} == {at(WEDNESDAY, 17)}
        into_hall = GateEvent.objects.filter(
            kind=GateEventKind.CHECK_IN, zone__name="Gudang A", standing_pass__kind="worker"
        ).order_by("at")
        assert into_hall.count() == WORKERS
        first = into_hall[0]
        assert {(c["name"], c["officer"]) for c in first.companions} == {
            ("Rina Marlina", "kpu"),
            ("Rahmat Hidayat", "polri"),
        }
        # The officers were inside the site before: their own move is a check-in from a zone.
        moved = GateEvent.objects.filter(zone__name="Gudang A", at=first.at).exclude(pk=first.pk)
        assert {(e.visitor.name, e.from_zone.name) for e in moved} == {  # type: ignore[union-attr]
            ("Rina Marlina", "Kantor"),
            ("Rahmat Hidayat", "Pos jaga"),
        }

    def test_the_saksi_without_a_letter_is_denied(self) -> None:
        refused = Visit.objects.select_related("visitor").get(purpose=Purpose.OVERSIGHT)
        assert refused.state == VisitState.DENIED
        assert refused.walk_in and refused.registered_by.username == "jaga.okut"
        assert refused.decided_by is not None and refused.decided_by.username == "kpu.okut"
        assert "surat mandat" in refused.deny_reason
        assert not GateEvent.objects.filter(visitor=refused.visitor).exists()

    def test_last_nights_journalist_was_approved_by_the_chair_and_went_in_with_two_officers(
        self,
    ) -> None:
        visit = Visit.objects.get(purpose=Purpose.MEDIA)
        assert visit.walk_in and visit.registered_by.username == "danru.okut"
        assert visit.host.username == "komisioner.okut"
        assert visit.after_hours_approved_by is not None
        assert visit.after_hours_approved_by.username == "ketua.okut"
        assert visit.decided_by == visit.after_hours_approved_by
        entry = GateEvent.objects.get(visit=visit, kind=GateEventKind.CHECK_IN)
        assert local(entry.at) == at(TUESDAY, 21)
        assert entry.zone is not None and entry.zone.name == "Gudang A"
        assert {(c["name"], c["officer"]) for c in entry.companions} == {
            ("Hendra Saputra", "kpu"),
            ("Rahmat Hidayat", "polri"),
        }
        assert visit.state == VisitState.CHECKED_OUT
        assert local(visit.checked_out_at) == at(TUESDAY, 21, 40)

    def test_the_inside_board_agrees_with_the_gate_events(self, wednesday_morning: GateDay) -> None:
        assert board() == {
            "Pos jaga": {"Yusuf Pratama"},
            "Kantor": {"Fajar Kurniadi"},
            "Gudang A": WORKER_NAMES | {"Rina Marlina", "Rahmat Hidayat"},
        }
        assert wednesday_morning.inside == WORKERS + 4
        inside_agrees_with_gate_events(Site.objects.get(code="GUDANG-16.08"))
        nothing_after(at(WEDNESDAY, 10, 30))

    def test_the_ledger_verifies(self) -> None:
        result = audit.verify_database()
        assert result.entries == ledger.tree_size()
        assert Entry.objects.filter(kind="access.gate.check_in").count() == (
            GateEvent.objects.filter(kind=GateEventKind.CHECK_IN).count()
        )
        assert Entry.objects.filter(kind="access.visit.denied").count() == 1


@pytest.mark.django_db
def test_at_twenty_past_nine_the_board_shows_three_in_hall_a(warehouse: Site) -> None:
    day = build_gate_day(at(WEDNESDAY, 21, 20))
    assert (day.day, day.evening) == (WEDNESDAY, WEDNESDAY)
    assert board() == {
        "Gudang A": {"Nadia Putri", "Hendra Saputra", "Rahmat Hidayat"},
        "Pos jaga": {"Rizky Ramadhan"},
    }
    inside_agrees_with_gate_events(warehouse)
    nothing_after(at(WEDNESDAY, 21, 20))


@pytest.mark.django_db
def test_a_technician_past_his_planned_end_raises_the_overstay_alarm(warehouse: Site) -> None:
    day = build_gate_day(at(WEDNESDAY, 13))
    alarm = Alarm.objects.get(source="access", kind="overstay")
    assert alarm.active and alarm.evidence[0]["label"] == "Fajar Kurniadi"
    assert local(alarm.first_raised_at) == at(WEDNESDAY, 12, 15)
    assert day.overstaying == 1
    later = build_gate_day(at(WEDNESDAY, 17, 30))
    alarm.refresh_from_db()
    assert not alarm.active and later.overstaying == 0


WEEKEND = {
    # now: the working day and evening shown, who is inside by zone
    "saturday-noon": (
        at(SATURDAY, 12),
        (dt.date(2026, 10, 16), dt.date(2026, 10, 16)),
        {"Pos jaga": {"Yusuf Pratama", "Rahmat Hidayat"}},
    ),
    "monday-06:00": (
        at(MONDAY, 6),
        (dt.date(2026, 10, 16), dt.date(2026, 10, 18)),
        {"Pos jaga": {"Rizky Ramadhan"}},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("when", WEEKEND.values(), ids=WEEKEND.keys())
def test_a_weekend_build_shows_fridays_work_and_only_the_guards_inside(
    warehouse: Site, when: tuple[dt.datetime, tuple[dt.date, dt.date], dict[str, set[str]]]
) -> None:
    now, shown, expected = when
    day = build_gate_day(now)
    assert (day.day, day.evening) == shown
    assert board() == expected
    assert day.inside == sum(len(names) for names in expected.values())
    assert GateEvent.objects.filter(standing_pass__kind="worker").count() == 2 * WORKERS
    inside_agrees_with_gate_events(warehouse)
    nothing_after(now)


@pytest.mark.django_db
def test_later_builds_continue_the_days_and_leave_nobody_behind(warehouse: Site) -> None:
    build_gate_day(at(TUESDAY, 10))
    assert len(board()["Gudang A"]) == WORKERS + 2
    # The same day, later: the workers left from 16:00, the operator at 17:00.
    build_gate_day(at(TUESDAY, 17, 30))
    assert board() == {"Pos jaga": {"Yusuf Pratama", "Rahmat Hidayat"}}
    left = GateEvent.objects.get(visitor__name="Ayu Lestari", kind=GateEventKind.CHECK_OUT)
    assert local(left.at) == at(TUESDAY, 16) + dt.timedelta(seconds=15)
    # The next day: a new working day and the evening between them.
    build_gate_day(at(WEDNESDAY, 10))
    assert StandingPass.objects.filter(kind="worker").count() == 2 * WORKERS
    evenings = Visit.objects.filter(purpose=Purpose.MEDIA).order_by("planned_start")
    assert [local(v.planned_start).date() for v in evenings] == [TUESDAY - dt.timedelta(1), TUESDAY]
    inside_agrees_with_gate_events(warehouse)
    # Twelve days on: whoever was left inside is checked out before the new days begin.
    later = WEDNESDAY + dt.timedelta(days=12)
    build_gate_day(at(later, 10))
    assert min(p.entered_at for p in Presence.objects.all()) >= at(later, 0) - dt.timedelta(hours=5)
    assert len(board()["Gudang A"]) == WORKERS + 2
    inside_agrees_with_gate_events(warehouse)
    nothing_after(at(later, 10))
    assert audit.verify_database().entries == ledger.tree_size()

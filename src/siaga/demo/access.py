"""The demo's gate traffic at the OKU Timur warehouse in Martapura, shaped on scenarios 1, 2
and 4, in the warehouse's local time (WIB):

- every day, two Polri guards relieve each other at 07:00 and 19:00 and the guard commander
  is on site from 08:00 to 22:00;
- on the latest working day: the printer's truck at 07:30 (a walk-in the operator approves,
  out at 08:10), forty sortir-lipat workers on day passes who go into Gudang A with a KPU
  officer and a police officer and leave at 16:00, a CCTV technician who stays past his
  planned end (the overstay alarm), and a party witness refused for coming without a letter;
- on the latest evening: at 21:00 a journalist, registered at the gate and approved by the
  KPU chair, goes into Gudang A with the commissioner and the guard commander; out at 21:40.

Everything goes through the access services at the time it happens, and only what is not in
the future of now: a build during the day leaves people inside. Ids derive from stable names,
so building again changes nothing; a later build continues the days it began, writes no new
history before what is already recorded, and checks out people left inside by a build more
than a few days old."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from siaga.access import services as gate
from siaga.access.choices import ItemKind, Officer, PassKind, Purpose, VisitState
from siaga.access.models import (
    GateEvent,
    Presence,
    StandingPass,
    Visit,
    Visitor,
    nik_lookup_hash,
    record_region,
)
from siaga.accounts.models import User
from siaga.core.errors import Conflict, NotFound
from siaga.demo.world import stable_id
from siaga.regions.timezones import time_zone_of
from siaga.sites.models import Site, Zone

WAREHOUSE = "GUDANG-16.08"
WORKERS = 40
# A build looks at today and the days before it: the shifts, the working day it continues or
# begins, the evening of the after-hours visit (a Monday morning reaches back to Friday).
DAYS_BACK = 4
WORKING_DAYS = (1, 2, 3, 4, 5)

ZONE_GATE = "Gerbang utama"
ZONE_POST = "Pos jaga"
ZONE_YARD = "Halaman"
ZONE_OFFICE = "Kantor"
ZONE_LOADING = "Area bongkar muat"
HALL_A = "Gudang A"
HALL_B = "Gudang B"
ALL_ZONES = (ZONE_GATE, ZONE_POST, ZONE_YARD, ZONE_OFFICE, ZONE_LOADING, HALL_A, HALL_B)


@dataclass(frozen=True)
class Person:
    """Someone at the gate: a NIK of OKU Timur (16.08; women's birth day + 40)."""

    nik: str
    name: str
    organisation: str = ""
    phone: str = ""

    @property
    def data(self) -> gate.PersonData:
        return gate.PersonData(
            nik=self.nik, name=self.name, organisation=self.organisation, phone=self.phone
        )


@dataclass(frozen=True)
class StaffPass:
    """A standing pass, issued month by month (each valid for 120 days)."""

    key: str
    person: Person
    kind: str
    issuer: str
    username: str = ""
    officer: str = ""
    weekdays: str = "1234567"
    hours: tuple[dt.time, dt.time] | None = None


KPU = "KPU Kabupaten OKU Timur"
POLRES = "Polres OKU Timur"
OPERATOR = StaffPass(
    "operator",
    Person("1608015204880011", "Rina Marlina", KPU, "081273456789"),
    PassKind.STAFF,
    issuer="ketua.okut",
    username="kpu.okut",
    weekdays="".join(str(d) for d in WORKING_DAYS),
    hours=(dt.time(7), dt.time(18)),
)
COMMISSIONER = StaffPass(
    "commissioner",
    Person("1608021703790012", "Hendra Saputra", KPU, "081377001122"),
    PassKind.STAFF,
    issuer="ketua.okut",
    username="komisioner.okut",
)
CHAIR = StaffPass(
    "chair",
    Person("1608014509750013", "Siti Aminah", KPU, "081274120033"),
    PassKind.STAFF,
    issuer="ketua.okut",
    username="ketua.okut",
)
DAY_GUARD = StaffPass(
    "day-guard",
    Person("1608032208910014", "Yusuf Pratama", POLRES),
    PassKind.GUARD,
    issuer="kapolres.okut",
    username="jaga.okut",
    hours=(dt.time(6), dt.time(20)),
)
# The night guard has no SIAGA account: the guard on the gate's phone checks him in and out.
NIGHT_GUARD = StaffPass(
    "night-guard",
    Person("1608051407960016", "Rizky Ramadhan", POLRES),
    PassKind.GUARD,
    issuer="kapolres.okut",
    officer=Officer.POLRI,
    hours=(dt.time(18), dt.time(8)),
)
COMMANDER = StaffPass(
    "commander",
    Person("1608010101840015", "Rahmat Hidayat", POLRES),
    PassKind.GUARD,
    issuer="kapolres.okut",
    username="danru.okut",
)
STAFF = (OPERATOR, COMMISSIONER, CHAIR, DAY_GUARD, NIGHT_GUARD, COMMANDER)

DRIVER = Person("1608071205850021", "Ahmad Fauzi", "PT Sriwijaya Cetak Mandiri", "085267891234")
TECHNICIAN = Person("1608010907900022", "Fajar Kurniadi", "CV Mitra Kamera Palembang")
WITNESS = Person("1608041111800023", "Hasan Basri", "Saksi partai politik")
JOURNALIST = Person("1608016306950024", "Nadia Putri", "Harian Martapura Pos", "081366554477")
TRUCK_PLATE = "BG 8123 KA"

_MEN = (
    "Ahmad Ridwan", "Bayu Saputra", "Dedi Irawan", "Eko Prasetyo", "Feri Gunawan",
    "Gilang Ramadhan", "Hendri Wijaya", "Imam Santoso", "Joni Iskandar", "Kurnia Sandi",
    "Lukman Hakim", "Mulyadi", "Nanda Pratama", "Putra Alamsyah", "Rudi Hartono",
    "Syahrial", "Taufik Hidayat", "Usman Effendi", "Wahyu Nugroho", "Yudi Setiawan",
)  # fmt: skip
_WOMEN = (
    "Ayu Lestari", "Desi Ratnasari", "Eka Puspita", "Fitri Handayani", "Indah Permata",
    "Lina Marlina", "Maya Sari", "Nurul Aini", "Novi Yanti", "Ratna Dewi",
    "Sari Wulandari", "Tuti Alawiyah", "Wulan Dari", "Yuli Astuti", "Rahmawati",
    "Dian Novita", "Ani Suryani", "Leni Marlena", "Mira Susanti", "Puspa Anggraini",
)  # fmt: skip


def worker(number: int) -> Person:
    """The ``number``-th (1-40) hired worker: a name and a NIK that are the same every time,
    from one of the twenty kecamatan of OKU Timur, born 1975-2004, serial 2001 and up."""
    woman = number % 2 == 0
    names = _WOMEN if woman else _MEN
    day = (number * 7) % 28 + 1
    month = (number * 5) % 12 + 1
    year = 75 + (number * 11) % 30
    return Person(
        nik=(
            f"1608{(number - 1) % 20 + 1:02d}{day + (40 if woman else 0):02d}{month:02d}"
            f"{year % 100:02d}{2000 + number:04d}"
        ),
        name=names[(number - 1) // 2 % len(names)],
        organisation="Pekerja sortir-lipat",
    )


@dataclass(frozen=True)
class GateDay:
    """What the gate day left: the working day and the evening shown, how many steps this
    build wrote (0 when it ran before), and who is inside now."""

    day: dt.date | None
    evening: dt.date | None
    workers: int
    steps_written: int
    gate_events: int
    inside: int
    overstaying: int

    @property
    def created(self) -> bool:
        return self.steps_written > 0


@dataclass
class _Step:
    at: dt.datetime
    order: int
    run: Callable[[], bool]
    # The id of what the step writes (event, visit, pass): written already means done.
    writes: uuid.UUID | None = None


class _Gate:
    """The cast, the places, and the steps of the days; ``play`` runs them in time order."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.site = Site.objects.get(code=WAREHOUSE)
        self.tz = time_zone_of(self.site.region_id)
        self.zones = {z.name: z for z in Zone.objects.filter(site=self.site)}
        usernames = {p.issuer for p in STAFF} | {p.username for p in STAFF if p.username}
        self.users = User.objects.in_bulk(sorted(usernames), field_name="username")
        self.steps: list[_Step] = []
        self._visitors: dict[str, Visitor] = {}
        self._passes: dict[uuid.UUID, StandingPass] = {}

    # -- time and ids

    def at(self, day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=self.tz)

    def local_date(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.tz).date()

    def add(self, at: dt.datetime, run: Callable[[], bool], writes: uuid.UUID | None) -> None:
        self.steps.append(_Step(at, len(self.steps), run, writes))

    # -- look-ups made when a step runs (the rows may come from an earlier step)

    def visitor(self, person: Person) -> Visitor:
        if person.nik not in self._visitors:
            self._visitors[person.nik] = Visitor.objects.by_nik(person.nik).get(
                region=record_region(self.site.region_id)
            )
        return self._visitors[person.nik]

    def staff_pass(self, spec: StaffPass, at: dt.datetime) -> StandingPass:
        """This month's pass of ``spec``, issued on the first of the month if need be."""
        first = self.local_date(at).replace(day=1)
        pass_id = stable_id("pass", spec.key, f"{first:%Y-%m}")
        if pass_id not in self._passes:
            issued = StandingPass.objects.filter(pk=pass_id).first()
            if issued is None:
                valid_from = self.at(first, 0)
                user = self.users.get(spec.username) if spec.username else None
                issued = gate.issue_pass(
                    actor=self.users[spec.issuer],
                    id=pass_id,
                    person=spec.person.data,
                    site_id=self.site.pk,
                    zone_ids=[self.zones[name].pk for name in ALL_ZONES],
                    kind=spec.kind,
                    officer=spec.officer,
                    user_id=user.pk if user else None,
                    weekdays=spec.weekdays,
                    start_time=spec.hours[0] if spec.hours else None,
                    end_time=spec.hours[1] if spec.hours else None,
                    valid_from=valid_from,
                    valid_until=valid_from + dt.timedelta(days=120),
                    now=valid_from,
                ).obj
            self._passes[pass_id] = issued
        return self._passes[pass_id]

    # -- the kinds of step

    def badge_in(
        self,
        at: dt.datetime,
        name: str,
        holder: StaffPass | Callable[[], StandingPass],
        zone: str | None,
        *,
        actor: str,
        companions: Sequence[Person] = (),
    ) -> None:
        """Someone with a pass comes in through the gate or moves on into ``zone``."""
        event_id = stable_id("gate", name)

        def run() -> bool:
            issued = self.staff_pass(holder, at) if isinstance(holder, StaffPass) else holder()
            return self._check_in(at, event_id, actor, zone, companions, badge=issued.qr_payload)

        self.add(at, run, event_id)

    def visit_in(
        self,
        at: dt.datetime,
        name: str,
        visit_id: uuid.UUID,
        zone: str | None,
        *,
        actor: str,
        companions: Sequence[Person] = (),
        items: Sequence[gate.Item] = (),
        plate: str = "",
    ) -> None:
        event_id = stable_id("gate", name)

        def run() -> bool:
            if not Visit.objects.filter(pk=visit_id).exists():
                return False
            return self._check_in(
                at, event_id, actor, zone, companions, visit_id=visit_id, items=items, plate=plate
            )

        self.add(at, run, event_id)

    def _check_in(
        self,
        at: dt.datetime,
        event_id: uuid.UUID,
        actor: str,
        zone: str | None,
        companions: Sequence[Person],
        *,
        badge: str | None = None,
        visit_id: uuid.UUID | None = None,
        items: Sequence[gate.Item] = (),
        plate: str = "",
    ) -> bool:
        try:
            gate.check_in(
                actor=self.users[actor],
                id=event_id,
                visit_id=visit_id,
                badge=badge,
                zone_id=self.zones[zone].pk if zone else None,
                companion_ids=[self.visitor(p).pk for p in companions],
                items=items,
                vehicle_plate=plate,
                now=at,
            )
        except Conflict as refused:
            # Already there: a shift left open by days that no build played.
            if refused.code != "already_inside":
                raise
            return False
        return True

    def out(self, at: dt.datetime, name: str, person: Person, *, actor: str) -> None:
        event_id = stable_id("gate", name)

        def run() -> bool:
            visitor = (
                Visitor.objects.by_nik(person.nik)
                .filter(region=record_region(self.site.region_id))
                .first()
            )
            if visitor is None or not Presence.objects.filter(visitor=visitor).exists():
                return False  # never came in (a step skipped on an earlier build)
            gate.check_out(actor=self.users[actor], id=event_id, visitor_id=visitor.pk, now=at)
            return True

        self.add(at, run, event_id)

    # -- the days

    def shifts(self, day: dt.date) -> None:
        """The guards relieve each other at 07:00 and 19:00; the commander is in 08:00-22:00."""
        d = day.isoformat()
        self.badge_in(self.at(day, 7), f"{d}/day-guard/in", DAY_GUARD, ZONE_POST, actor="jaga.okut")
        self.out(self.at(day, 7), f"{d}/night-guard/out", NIGHT_GUARD.person, actor="jaga.okut")
        self.badge_in(self.at(day, 8), f"{d}/commander/in", COMMANDER, ZONE_POST, actor="jaga.okut")
        self.night_shift(day)
        self.out(self.at(day, 19), f"{d}/day-guard/out", DAY_GUARD.person, actor="jaga.okut")
        self.out(self.at(day, 22), f"{d}/commander/out", COMMANDER.person, actor="danru.okut")

    def night_shift(self, day: dt.date) -> None:
        self.badge_in(
            self.at(day, 19),
            f"{day.isoformat()}/night-guard/in",
            NIGHT_GUARD,
            ZONE_POST,
            actor="jaga.okut",
        )

    def working_day_marker(self, day: dt.date) -> uuid.UUID:
        return self._worker_pass_id(day, 1)

    def _worker_pass_id(self, day: dt.date, number: int) -> uuid.UUID:
        return stable_id("pass", "worker", day.isoformat(), str(number))

    def working_day(self, day: dt.date) -> None:
        d = day.isoformat()
        op, guard = "kpu.okut", "jaga.okut"
        # Sortir-lipat: day passes for Gudang A and B, issued before the workers come.
        for number in range(1, WORKERS + 1):
            self._worker_pass(day, number)
        self.badge_in(self.at(day, 7, 10), f"{d}/operator/in", OPERATOR, ZONE_OFFICE, actor=guard)
        # Scenario 1: the printer's truck.
        truck = stable_id("visit", d, "truck")
        self._register(
            self.at(day, 7, 25),
            truck,
            DRIVER,
            actor=guard,
            host=op,
            zones=[ZONE_LOADING, ZONE_YARD],
            purpose=Purpose.DELIVERY,
            purpose_text="Antar surat suara DPR RI dari percetakan: 120 karton",
            start=self.at(day, 7, 30),
            end=self.at(day, 9),
            walk_in=True,
            plate=TRUCK_PLATE,
        )
        self._approve(self.at(day, 7, 27), truck, actor=op)
        self.visit_in(
            self.at(day, 7, 30),
            f"{d}/truck/in",
            truck,
            ZONE_LOADING,
            actor=guard,
            plate=TRUCK_PLATE,
            items=[
                gate.Item(ItemKind.DOCUMENT, 1, "Surat jalan dan daftar muatan"),
                gate.Item(ItemKind.PHONE, 1),
            ],
        )
        self.out(self.at(day, 8, 10), f"{d}/truck/out", DRIVER, actor=guard)
        # Scenario 2: the workers come through the gate straight into Gudang A; the first
        # brings the KPU officer and the police officer in with her, the rest find them there.
        for number in range(1, WORKERS + 1):
            self.badge_in(
                self.at(day, 8, 15) + dt.timedelta(seconds=20 * (number - 1)),
                f"{d}/worker-{number:02d}/in",
                self._worker_badge(day, number),
                HALL_A,
                actor=guard,
                companions=[OPERATOR.person, COMMANDER.person] if number == 1 else (),
            )
        # A technician who stays past his planned end: the sweep raises the overstay alarm.
        technician = stable_id("visit", d, "technician")
        self._register(
            self.at(day, 8, 45),
            technician,
            TECHNICIAN,
            actor=op,
            host=op,
            zones=[ZONE_OFFICE],
            purpose=Purpose.MAINTENANCE,
            purpose_text="Servis DVR dan kamera CCTV Gudang B",
            start=self.at(day, 9, 30),
            end=self.at(day, 12),
        )
        self.visit_in(
            self.at(day, 9, 35),
            f"{d}/technician/in",
            technician,
            ZONE_OFFICE,
            actor=guard,
            items=[gate.Item(ItemKind.TOOL, 1, "Tas perkakas"), gate.Item(ItemKind.LAPTOP, 1)],
        )
        self.add(self.at(day, 12, 15), lambda: gate.flag_overstays(self.at(day, 12, 15)) > 0, None)
        self.out(self.at(day, 15, 30), f"{d}/technician/out", TECHNICIAN, actor=guard)
        # A party witness without a letter is refused.
        witness = stable_id("visit", d, "witness")
        self._register(
            self.at(day, 10, 15),
            witness,
            WITNESS,
            actor=guard,
            host=op,
            zones=[HALL_A],
            purpose=Purpose.OVERSIGHT,
            purpose_text="Ingin melihat surat suara di Gudang A",
            start=self.at(day, 10, 15),
            end=self.at(day, 11, 15),
            walk_in=True,
        )
        self._deny(
            self.at(day, 10, 20),
            witness,
            actor=op,
            reason=(
                "Tidak membawa surat mandat. Pemantauan gudang lewat permohonan resmi ke KPU "
                "dan didampingi Bawaslu."
            ),
        )
        # 16:00: the workers leave; the officers leave the hall; the operator goes home.
        for number in range(1, WORKERS + 1):
            self.out(
                self.at(day, 16) + dt.timedelta(seconds=15 * (number - 1)),
                f"{d}/worker-{number:02d}/out",
                worker(number),
                actor=guard,
            )
        self.badge_in(
            self.at(day, 16, 15), f"{d}/operator/office", OPERATOR, ZONE_OFFICE, actor=guard
        )
        self.badge_in(
            self.at(day, 16, 15), f"{d}/commander/post", COMMANDER, ZONE_POST, actor=guard
        )
        self.out(self.at(day, 17), f"{d}/operator/out", OPERATOR.person, actor=guard)

    def evening_marker(self, day: dt.date) -> uuid.UUID:
        return stable_id("gate", f"{day.isoformat()}/evening/commissioner/in")

    def evening(self, day: dt.date) -> None:
        """Scenario 4: the journalist after hours, approved by the chair."""
        d = f"{day.isoformat()}/evening"
        commander = "danru.okut"
        self.badge_in(
            self.at(day, 20, 45), f"{d}/commissioner/in", COMMISSIONER, ZONE_YARD, actor=commander
        )
        press = stable_id("visit", d, "journalist")
        self._register(
            self.at(day, 20, 47),
            press,
            JOURNALIST,
            actor=commander,
            host="komisioner.okut",
            zones=[HALL_A],
            purpose=Purpose.MEDIA,
            purpose_text="Liputan kesiapan logistik pemilu, foto Gudang A",
            start=self.at(day, 20, 50),
            end=self.at(day, 21, 45),
            walk_in=True,
        )
        self._approve(self.at(day, 20, 55), press, actor="ketua.okut")
        self.visit_in(
            self.at(day, 21),
            f"{d}/journalist/in",
            press,
            HALL_A,
            actor=commander,
            companions=[COMMISSIONER.person, COMMANDER.person],
            items=[gate.Item(ItemKind.CAMERA, 1, "Kamera DSLR"), gate.Item(ItemKind.PHONE, 1)],
        )
        self.out(self.at(day, 21, 40), f"{d}/journalist/out", JOURNALIST, actor=commander)
        self.out(
            self.at(day, 21, 41), f"{d}/commissioner/out", COMMISSIONER.person, actor=commander
        )
        self.badge_in(
            self.at(day, 21, 41), f"{d}/commander/post", COMMANDER, ZONE_POST, actor=commander
        )

    def _worker_pass(self, day: dt.date, number: int) -> None:
        pass_id = self._worker_pass_id(day, number)

        def run() -> bool:
            gate.issue_pass(
                actor=self.users["komisioner.okut"],
                id=pass_id,
                person=worker(number).data,
                site_id=self.site.pk,
                zone_ids=[self.zones[HALL_A].pk, self.zones[HALL_B].pk],
                kind=PassKind.WORKER,
                valid_from=self.at(day, 7),
                valid_until=self.at(day, 17),
                now=self.at(day, 6, 30),
            )
            return True

        self.add(self.at(day, 6, 30), run, pass_id)

    def _worker_badge(self, day: dt.date, number: int) -> Callable[[], StandingPass]:
        return lambda: StandingPass.objects.get(pk=self._worker_pass_id(day, number))

    def _register(
        self,
        at: dt.datetime,
        visit_id: uuid.UUID,
        person: Person,
        *,
        actor: str,
        host: str,
        zones: Sequence[str],
        purpose: str,
        purpose_text: str,
        start: dt.datetime,
        end: dt.datetime,
        walk_in: bool = False,
        plate: str = "",
    ) -> None:
        def run() -> bool:
            gate.register_visit(
                actor=self.users[actor],
                id=visit_id,
                person=person.data,
                site_id=self.site.pk,
                zone_ids=[self.zones[name].pk for name in zones],
                purpose=purpose,
                purpose_text=purpose_text,
                host_id=self.users[host].pk,
                planned_start=start,
                planned_end=end,
                walk_in=walk_in,
                vehicle_plate=plate,
                now=at,
            )
            return True

        self.add(at, run, visit_id)

    def _approve(self, at: dt.datetime, visit_id: uuid.UUID, *, actor: str) -> None:
        def run() -> bool:
            if not Visit.objects.filter(pk=visit_id, state=VisitState.REQUESTED).exists():
                return False
            gate.approve_visit(actor=self.users[actor], visit_id=visit_id, now=at)
            return True

        self.add(at, run, None)

    def _deny(self, at: dt.datetime, visit_id: uuid.UUID, *, actor: str, reason: str) -> None:
        def run() -> bool:
            if not Visit.objects.filter(pk=visit_id, state=VisitState.REQUESTED).exists():
                return False
            gate.deny_visit(actor=self.users[actor], visit_id=visit_id, reason=reason, now=at)
            return True

        self.add(at, run, None)

    # -- playing the steps

    def close_stale(self, before: dt.datetime, people: Sequence[Person]) -> int:
        """Check out the demo's people still inside from a build older than the days looked
        at: by the time they were expected out, and before ``before``."""
        closed = 0
        stale = (
            Presence.objects.filter(
                site=self.site,
                visitor__person__nik_hash__in=[nik_lookup_hash(p.nik) for p in people],
                last_event__at__lt=before,
            )
            .select_related("last_event")
            .order_by("entered_at")
        )
        for presence in stale:
            latest = before - dt.timedelta(minutes=1)
            at = min(presence.expected_out or latest, latest)
            at = max(at, presence.last_event.at + dt.timedelta(seconds=1))
            gate.check_out(
                actor=self.users["jaga.okut"],
                id=stable_id("gate", "closed", str(presence.last_event_id)),
                visitor_id=presence.visitor_id,
                now=at,
            )
            closed += 1
        return closed

    def play(self, last: dt.datetime | None) -> int:
        """Run each step that is due, not done yet, and later than the latest recorded event."""
        wanted = [s.writes for s in self.steps if s.writes is not None]
        done = set(GateEvent.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        done |= set(Visit.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        done |= set(StandingPass.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        written = 0
        for step in sorted(self.steps, key=attrgetter("at", "order")):
            if step.at > self.now or step.writes in done:
                continue
            if last is not None and step.at <= last:
                continue  # history is not rewritten under what is already recorded
            written += int(step.run())
        return written


def _latest(days: Sequence[dt.date], fits: Callable[[dt.date], bool]) -> dt.date | None:
    return max((d for d in days if fits(d)), default=None)


def build_gate_day(now: dt.datetime | None = None) -> GateDay:
    """Play the gate's days up to ``now`` (default: the current time), in one transaction.
    Safe to run again."""
    with transaction.atomic():
        return _build(now or timezone.now())


def _build(now: dt.datetime) -> GateDay:
    g = _Gate(now)
    today = g.local_date(now)
    looked_at = _days(today - dt.timedelta(days=DAYS_BACK), today)
    recorded = GateEvent.objects.filter(site=g.site).aggregate(last=Max("at"))["last"]
    markers = {g.working_day_marker(d) for d in looked_at}
    markers |= {g.evening_marker(d) for d in looked_at}
    begun = set(StandingPass.objects.filter(pk__in=markers).values_list("pk", flat=True))
    begun |= set(GateEvent.objects.filter(pk__in=markers).values_list("pk", flat=True))

    def starts(begins_at: dt.datetime) -> bool:
        return recorded is None or begins_at > recorded

    # Days begun by an earlier build go on; a new one begins on the latest day whose main
    # moment is past (the truck at 07:30, the journalist at 21:00), unless history already
    # recorded reaches past its start.
    day = _latest(looked_at, lambda d: d.isoweekday() in WORKING_DAYS and g.at(d, 7, 30) <= now)
    evening = _latest(looked_at, lambda d: g.at(d, 21) <= now)
    working = [
        d
        for d in looked_at
        if g.working_day_marker(d) in begun or (d == day and starts(g.at(d, 6, 30)))
    ]
    evenings = [
        d
        for d in looked_at
        if g.evening_marker(d) in begun or (d == evening and starts(g.at(d, 20, 45)))
    ]
    first = min([*working, *evenings], default=today)
    since = g.at(first - dt.timedelta(days=1), 19)
    g.night_shift(first - dt.timedelta(days=1))
    for d in _days(first, today):
        g.shifts(d)
        if d in working:
            g.working_day(d)
        if d in evenings:
            g.evening(d)
    people = [*(p.person for p in STAFF), DRIVER, TECHNICIAN, WITNESS, JOURNALIST]
    people += [worker(n) for n in range(1, WORKERS + 1)]
    written = g.close_stale(since, people)
    for spec in STAFF:  # this month's passes, held also by those the days do not bring in
        g.staff_pass(spec, now)
    written += g.play(recorded)
    written += _driver_in_oku(now)
    if written:
        gate.flag_overstays(now)
    inside = Presence.objects.filter(site=g.site)
    return GateDay(
        day=max(working, default=None),
        evening=max(evenings, default=None),
        workers=WORKERS,
        steps_written=written,
        gate_events=GateEvent.objects.filter(site=g.site, at__gte=since).count(),
        inside=inside.count(),
        overstaying=inside.filter(expected_out__lt=now).count(),
    )


OKU_WAREHOUSE = "GUDANG-16.01"
# The number the driver gave at the OKU warehouse: OKU's record holds it, OKU Timur's its own.
DRIVER_PHONE_IN_OKU = "081299887766"


def _driver_in_oku(now: dt.datetime) -> int:
    """The printer's driver delivered to KPU OKU's warehouse in Baturaja three days ago too:
    OKU holds its own record of him (with the number he gave there), and nothing of OKU
    Timur's record changed (docs/privacy.md). kpu.oku can look him up; a person known only in
    OKU Timur is "not known here" to him. 1 when written now, 0 when there already."""
    visit_id = stable_id("visit", "oku", "driver-delivery")
    site = Site.objects.filter(code=OKU_WAREHOUSE).first()
    operator = User.objects.filter(username="kpu.oku").first()
    if site is None or operator is None or Visit.objects.filter(pk=visit_id).exists():
        return 0
    tz = time_zone_of(site.region_id)
    day = (now - dt.timedelta(days=3)).astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(9, 0), tzinfo=tz)
    gate.register_visit(
        actor=operator,
        id=visit_id,
        person=Person(DRIVER.nik, DRIVER.name, DRIVER.organisation, DRIVER_PHONE_IN_OKU).data,
        site_id=site.pk,
        zone_ids=list(
            Zone.objects.filter(site=site, name=ZONE_LOADING).values_list("pk", flat=True)
        ),
        purpose=Purpose.DELIVERY,
        purpose_text="Antar surat suara DPRD Kabupaten OKU",
        host_id=operator.pk,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=3),
        vehicle_plate="BG 8712 KC",
        now=start - dt.timedelta(days=1),
    )
    # The look-up log has something to read (docs/privacy.md): the guard found the driver at
    # the OKU Timur gate; kpu.oku asked after a KPU OKU Timur operator, who is not known there.
    guard = User.objects.filter(username="jaga.okut").first()
    if guard is not None:
        gate.lookup_visitor(actor=guard, nik=DRIVER.nik, channel="web")
    with contextlib.suppress(NotFound):  # the refusal is what the log records
        gate.lookup_visitor(actor=operator, nik=STAFF[0].person.nik, channel="web")
    return 1


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]

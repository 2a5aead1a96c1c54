"""The gate's cast: the OKU Timur warehouse with its storage hall and gate, a KPU officer and a
police guard holding standing passes, a host, and fixed clocks (day and night, WIB)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from siaga.access import services
from siaga.access.models import SiteRules, StandingPass, Visit
from siaga.accounts.models import User
from siaga.sites.models import Site, Zone
from tests.conftest import World

WIB = ZoneInfo("Asia/Jakarta")
# A Wednesday in the weeks before voting day.
DAY = dt.datetime(2029, 1, 31, 10, 0, tzinfo=WIB)
NIGHT = dt.datetime(2029, 1, 31, 21, 0, tzinfo=WIB)

# Structurally valid NIKs of OKU Timur (16.08), born 1985 to 1992; women's day + 40.
NIK_DRIVER = "1608011205850001"
NIK_JOURNALIST = "1608015703920002"
NIK_WORKER = "1608020101900003"
NIK_OPERATOR = "1608014404880004"
NIK_GUARD = "1608010903870005"
NIK_SUSPECT = "1608011111800006"


@dataclass
class Gate:
    site: Site
    hall: Zone
    gate_zone: Zone
    operator_pass: StandingPass
    guard_pass: StandingPass


def open_all_day(site: Site) -> SiteRules:
    """No after-hours window: API tests run at whatever hour CI does."""
    rules, _ = SiteRules.objects.update_or_create(
        site=site, defaults={"after_hours_start": dt.time(0, 0), "after_hours_end": dt.time(0, 0)}
    )
    return rules


@pytest.fixture
def gate(world: World, operator_okut: User, guard_okut: User, commissioner_okut: User) -> Gate:
    site = world.warehouse_okut
    hall = world.hall_a_okut
    gate_zone = Zone.objects.get(site=site, name="Gerbang utama")
    valid_from = DAY - dt.timedelta(days=30)
    valid_until = DAY + dt.timedelta(days=60)
    operator_pass = services.issue_pass(
        actor=commissioner_okut,
        person=services.PersonData(nik=NIK_OPERATOR, name="Rina Operator", phone="081234567890"),
        site_id=site.pk,
        zone_ids=[hall.pk, gate_zone.pk],
        kind="staff",
        user_id=operator_okut.pk,
        valid_from=valid_from,
        valid_until=valid_until,
        now=valid_from,
    ).obj
    guard_pass = services.issue_pass(
        actor=commissioner_okut,
        person=services.PersonData(nik=NIK_GUARD, name="Bripka Joko"),
        site_id=site.pk,
        zone_ids=[hall.pk, gate_zone.pk],
        kind="guard",
        user_id=guard_okut.pk,
        valid_from=valid_from,
        valid_until=valid_until,
        now=valid_from,
    ).obj
    return Gate(site, hall, gate_zone, operator_pass, guard_pass)


def visit_for(
    gate: Gate,
    actor: User,
    *,
    nik: str = NIK_DRIVER,
    name: str = "Andi Sopir",
    zones: list[Zone] | None = None,
    start: dt.datetime = DAY,
    hours: int = 2,
    walk_in: bool = False,
    host: User | None = None,
    now: dt.datetime | None = None,
) -> Visit:
    return services.register_visit(
        actor=actor,
        person=services.PersonData(nik=nik, name=name, organisation="PT Percetakan"),
        site_id=gate.site.pk,
        zone_ids=[z.pk for z in (zones if zones is not None else [gate.gate_zone])],
        purpose="delivery",
        host_id=host.pk if host else None,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=hours),
        walk_in=walk_in,
        now=now or start,
    ).obj


def png(width: int = 40, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()

"""Demo safety equipment for a warehouse, shaped on the OKU Timur one: its APARs (one expiring
in 10 days, one already expired), smoke detectors in both halls, a drainage pump and the
roof's lightning protection. Everything goes through the services, so the ledger, the alarm
of the expired APAR and the reminders hold what a real warehouse would leave. Safe to run
again: an item already there is left as it is (its dates were relative to its first day)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.regions.codes import covering_codes
from siaga.safety import services
from siaga.safety.choices import EquipmentKind, Variant
from siaga.safety.models import Equipment
from siaga.safety.rules import site_today
from siaga.sites.models import Site

NAMESPACE = uuid.UUID("5b1a6a0e-2c4f-4b7e-9d0c-51a6a0005afe")

# (tag, kind, type, kg, zone name, location, installed days ago, expiry in days, service in days)
ITEMS: list[tuple[str, str, str, str | None, str, str, int, int | None, int | None]] = [
    (
        "APAR-01",
        EquipmentKind.FIRE_EXTINGUISHER,
        Variant.POWDER,
        "6",
        "Gudang A",
        "Dinding dekat pintu Gudang A",
        1815,
        10,
        75,
    ),
    (
        "APAR-02",
        EquipmentKind.FIRE_EXTINGUISHER,
        Variant.CO2,
        "5",
        "Kantor",
        "Samping panel listrik",
        1830,
        -3,
        75,
    ),
    (
        "APAR-03",
        EquipmentKind.FIRE_EXTINGUISHER,
        Variant.POWDER,
        "6",
        "Gudang B",
        "Tiang tengah Gudang B",
        400,
        1425,
        20,
    ),
    (
        "APAR-04",
        EquipmentKind.FIRE_EXTINGUISHER,
        Variant.FOAM,
        "9",
        "Area bongkar muat",
        "Pintu gulung",
        400,
        1425,
        75,
    ),
    (
        "SD-A-01",
        EquipmentKind.SMOKE_DETECTOR,
        Variant.OPTICAL,
        None,
        "Gudang A",
        "Plafon tengah Gudang A",
        700,
        2950,
        90,
    ),
    (
        "SD-B-01",
        EquipmentKind.SMOKE_DETECTOR,
        Variant.OPTICAL,
        None,
        "Gudang B",
        "Plafon tengah Gudang B",
        700,
        2950,
        90,
    ),
    (
        "POMPA-01",
        EquipmentKind.WATER_PUMP,
        Variant.SUBMERSIBLE,
        None,
        "Halaman",
        "Bak kontrol saluran belakang",
        300,
        None,
        45,
    ),
    (
        "PETIR-01",
        EquipmentKind.LIGHTNING_PROTECTION,
        Variant.CONVENTIONAL_ROD,
        None,
        "",
        "Atap, dengan pembumian di sisi timur",
        2200,
        None,
        200,
    ),
]


@dataclass(frozen=True)
class Seeded:
    created: int
    items: int
    reminded: int
    alarms: int


def equipment_id(site: Site, tag: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{site.code}/{tag}")


def _officer(site: Site) -> User:
    """The site's KPU logistics operator (the first by name), else its first admin."""
    for role in (Role.KPU_OPERATOR, Role.ADMIN):
        member = (
            Membership.objects.filter(
                active=True,
                role=role,
                user__is_active=True,
                unit__region_id__in=covering_codes(site.region_id),
            )
            .select_related("user")
            .order_by("user__username")
            .first()
        )
        if member is not None:
            return member.user
    raise RuntimeError(f"no KPU operator or admin covers {site.code} to be responsible")


def seed(
    site: Site,
    *,
    actor: User | None = None,
    responsible: User | None = None,
    now: dt.datetime | None = None,
    sweep: bool = True,
) -> Seeded:
    """Give ``site`` its safety equipment (``actor`` records it, default the responsible
    officer, who defaults to the site's KPU operator), then run the reminder sweep once."""
    responsible = responsible or _officer(site)
    actor = actor or responsible
    today = site_today(site, now)
    zones = {z.name: z for z in site.zones.all()}
    created = 0
    for tag, kind, variant, kg, zone, location, age, expiry, service in ITEMS:
        pk = equipment_id(site, tag)
        if Equipment.objects.filter(pk=pk).exists():
            continue
        found: Any = zones.get(zone)
        result = services.add_equipment(
            actor=actor,
            id=pk,
            site_id=site.pk,
            zone_id=found.pk if found else None,
            kind=kind,
            variant=variant,
            size_kg=Decimal(kg) if kg else None,
            serial=f"{site.code}-{tag}",
            location=location,
            installed_on=today - dt.timedelta(days=age),
            expiry_on=today + dt.timedelta(days=expiry) if expiry is not None else None,
            next_service_on=today + dt.timedelta(days=service) if service is not None else None,
            responsible_id=responsible.pk,
            now=now,
        )
        created += result.created
    swept = services.sweep(now) if sweep else services.Swept()
    from siaga.alarms.models import Alarm
    from siaga.safety.choices import ALARM_SOURCE

    return Seeded(
        created=created,
        items=Equipment.objects.filter(site=site).count(),
        reminded=swept.reminded,
        alarms=Alarm.objects.filter(source=ALARM_SOURCE, site=site, active=True).count(),
    )

"""The demo world: Kabupaten OKU Timur (16.08) a few weeks before voting day, with its
neighbour Kabupaten OKU (16.01) to show region scoping.

Everything is built through the services, with ids derived from stable names, so building
twice changes nothing. TPS, PPK stores and their coordinates are synthetic and marked so.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django_otp.plugins.otp_totp.models import TOTPDevice

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Agency, AgencyUnit, User
from siaga.accounts.services import add_membership
from siaga.accounts.two_factor import demo_totp_secret_hex, requires_second_factor
from siaga.regions.models import Region
from siaga.sites.choices import SiteKind, ZoneKind
from siaga.sites.models import Site
from siaga.sites.services import create_site, create_zone

NAMESPACE = uuid.UUID("5b1a6a0e-2c4f-4b7e-9d0c-51a6a0000000")
OKU_TIMUR = "16.08"
OKU = "16.01"
MAX_VOTERS_PER_TPS = 300

AGENCIES = {
    AgencyKind.KPU: "Komisi Pemilihan Umum",
    AgencyKind.BAWASLU: "Badan Pengawas Pemilihan Umum",
    AgencyKind.POLRI: "Kepolisian Negara Republik Indonesia",
    AgencyKind.LINMAS: "Satuan Perlindungan Masyarakat",
    AgencyKind.PEMDA: "Pemerintah Daerah",
}

# (agency, region, unit name)
UNITS = [
    (AgencyKind.KPU, OKU_TIMUR, "KPU Kabupaten OKU Timur"),
    (AgencyKind.POLRI, OKU_TIMUR, "Polres OKU Timur"),
    (AgencyKind.BAWASLU, OKU_TIMUR, "Bawaslu Kabupaten OKU Timur"),
    (AgencyKind.LINMAS, OKU_TIMUR, "Satlinmas Kabupaten OKU Timur"),
    (AgencyKind.PEMDA, OKU_TIMUR, "Pemerintah Kabupaten OKU Timur"),
    (AgencyKind.KPU, "16.08.01", "PPK Martapura"),
    (AgencyKind.KPU, "16.08.04", "PPK Cempaka"),
    (AgencyKind.KPU, "16.08.01.1008", "PPS Pasar Martapura"),
    (AgencyKind.KPU, "16.08.04.2001", "PPS Cempaka"),
    (AgencyKind.KPU, OKU, "KPU Kabupaten OKU"),
    (AgencyKind.POLRI, OKU, "Polres OKU"),
    (AgencyKind.BAWASLU, OKU, "Bawaslu Kabupaten OKU"),
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    first_name: str
    last_name: str
    agency: str
    region: str
    role: str
    what: str


ACCOUNTS = [
    DemoAccount("admin", "Admin", "SIAGA", "", "", Role.ADMIN, "superuser, master data"),
    DemoAccount(
        "kpu.okut",
        "Rina",
        "Marlina",
        AgencyKind.KPU,
        OKU_TIMUR,
        Role.KPU_OPERATOR,
        "KPU logistics operator, OKU Timur",
    ),
    DemoAccount(
        "komisioner.okut",
        "Hendra",
        "Saputra",
        AgencyKind.KPU,
        OKU_TIMUR,
        Role.KPU_COMMISSIONER,
        "KPU commissioner, OKU Timur",
    ),
    DemoAccount(
        "ketua.okut",
        "Siti",
        "Aminah",
        AgencyKind.KPU,
        OKU_TIMUR,
        Role.KPU_COMMISSIONER,
        "KPU chair, OKU Timur (approves after-hours entry)",
    ),
    DemoAccount(
        "kapolres.okut",
        "AKBP Dedi",
        "Kurniawan",
        AgencyKind.POLRI,
        OKU_TIMUR,
        Role.POLICE_COMMANDER,
        "Kapolres OKU Timur",
    ),
    DemoAccount(
        "kabagops.okut",
        "Kompol Agus",
        "Salim",
        AgencyKind.POLRI,
        OKU_TIMUR,
        Role.POLICE_COMMANDER,
        "Kabag Ops, Polres OKU Timur",
    ),
    DemoAccount(
        "jaga.okut",
        "Brigpol Yusuf",
        "Pratama",
        AgencyKind.POLRI,
        OKU_TIMUR,
        Role.GUARD,
        "guard on duty at the KPU warehouse, Martapura",
    ),
    DemoAccount(
        "danru.okut",
        "Aipda Rahmat",
        "Hidayat",
        AgencyKind.POLRI,
        OKU_TIMUR,
        Role.GUARD,
        "guard commander (Danru) at the KPU warehouse, Martapura",
    ),
    DemoAccount(
        "linmas.okut",
        "Joko",
        "Susilo",
        AgencyKind.LINMAS,
        OKU_TIMUR,
        Role.GUARD,
        "Linmas guard, OKU Timur",
    ),
    DemoAccount(
        "bawaslu.okut",
        "Dewi",
        "Lestari",
        AgencyKind.BAWASLU,
        OKU_TIMUR,
        Role.BAWASLU_SUPERVISOR,
        "Bawaslu supervisor, OKU Timur",
    ),
    DemoAccount(
        "ppk.martapura",
        "Sari",
        "Wulandari",
        AgencyKind.KPU,
        "16.08.01",
        Role.KPU_OPERATOR,
        "PPK Martapura logistics (receives the BAST at the kecamatan store)",
    ),
    DemoAccount(
        "ppk.cempaka",
        "Hendra",
        "Saputra",
        AgencyKind.KPU,
        "16.08.04",
        Role.KPU_OPERATOR,
        "PPK Cempaka logistics (receives the BAST at the kecamatan store)",
    ),
    DemoAccount(
        "pps.martapura",
        "Nur",
        "Aini",
        AgencyKind.KPU,
        "16.08.01.1008",
        Role.KPU_OPERATOR,
        "PPS logistics in Martapura (receives the BAST at each PPS of the kecamatan)",
    ),
    DemoAccount(
        "pps.cempaka",
        "Yusuf",
        "Hidayat",
        AgencyKind.KPU,
        "16.08.04.2001",
        Role.KPU_OPERATOR,
        "PPS logistics in Cempaka (receives the BAST at each PPS of the kecamatan)",
    ),
    DemoAccount(
        "kpu.oku",
        "Bambang",
        "Wijaya",
        AgencyKind.KPU,
        OKU,
        Role.KPU_OPERATOR,
        "KPU logistics operator, neighbouring Kabupaten OKU",
    ),
]

# (code, name, kind, region, owning unit name, address, latitude, longitude, zones)
WAREHOUSES = [
    (
        "GUDANG-16.08",
        "Gudang Logistik KPU OKU Timur",
        "16.08.01.1008",
        "KPU Kabupaten OKU Timur",
        "Jl. Lintas Sumatera, Pasar Martapura, Martapura",
        Decimal("-4.317500"),
        Decimal("104.353800"),
    ),
    (
        "GUDANG-16.01",
        "Gudang Logistik KPU OKU",
        "16.01.14",
        "KPU Kabupaten OKU",
        "Jl. Dr. Moh. Hatta, Baturaja Timur",
        Decimal("-4.129500"),
        Decimal("104.166000"),
    ),
]

# The Martapura warehouse as in the scenarios: a gate with a guard post, a yard, an office and
# two storage halls.
WAREHOUSE_ZONES = [
    ("Gerbang utama", ZoneKind.GATE, False),
    ("Pos jaga", ZoneKind.GUARD_POST, False),
    ("Halaman", ZoneKind.YARD, False),
    ("Kantor", ZoneKind.OFFICE, False),
    ("Area bongkar muat", ZoneKind.LOADING, False),
    ("Gudang A", ZoneKind.STORAGE, True),
    ("Gudang B", ZoneKind.STORAGE, True),
]
PPK_ZONES = [("Pintu masuk", ZoneKind.GATE, False), ("Ruang logistik", ZoneKind.STORAGE, True)]

# Rough extents of the two kabupaten, for synthetic coordinates.
EXTENTS = {
    OKU_TIMUR: ((-4.55, -3.75), (104.05, 104.85)),
    OKU: ((-4.45, -3.95), (103.85, 104.35)),
}


def stable_id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(parts))


def _point(rng: random.Random, kabupaten: str) -> tuple[Decimal, Decimal]:
    (lat0, lat1), (lon0, lon1) = EXTENTS[kabupaten]
    return (
        Decimal(f"{rng.uniform(lat0, lat1):.6f}"),
        Decimal(f"{rng.uniform(lon0, lon1):.6f}"),
    )


def split_voters(total: int) -> list[int]:
    """Voters of one desa over as few TPS as keep each at or under 300."""
    count = math.ceil(total / MAX_VOTERS_PER_TPS)
    base, extra = divmod(total, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


@dataclass
class WorldReport:
    sites: int
    tps: int
    voters: int
    accounts: list[DemoAccount]


def build_world(password: str) -> WorldReport:
    """Create (or find) everything the demo needs. Safe to run again."""
    missing = [c for c in (OKU_TIMUR, OKU) if not Region.objects.filter(code=c).exists()]
    if missing:
        raise RuntimeError(f"regions {missing} are missing: run `siaga regions load` first")
    with transaction.atomic():
        agencies = {
            kind: Agency.objects.get_or_create(kind=kind, defaults={"name": name})[0]
            for kind, name in AGENCIES.items()
        }
        units = {
            name: AgencyUnit.objects.get_or_create(
                agency=agencies[kind], region_id=region, defaults={"name": name}
            )[0]
            for kind, region, name in UNITS
        }
        unit_by_key = {(u.agency.kind, u.region_id): u for u in units.values()}
        admin = _ensure_user(ACCOUNTS[0], password, superuser=True)
        for account in ACCOUNTS[1:]:
            user = _ensure_user(account, password, superuser=False)
            add_membership(
                actor=None,
                user=user,
                unit=unit_by_key[(account.agency, account.region)],
                role=account.role,
            )
        _ensure_demo_second_factors()
    for code, name, region, unit_name, address, lat, lon in WAREHOUSES:
        warehouse = create_site(
            actor=admin,
            id=stable_id("site", code),
            code=code,
            name=name,
            kind=SiteKind.WAREHOUSE,
            region_code=region,
            owner_unit_id=units[unit_name].pk,
            address=address,
            latitude=lat,
            longitude=lon,
        ).obj
        _add_zones(admin, warehouse, WAREHOUSE_ZONES)
    _build_ppk_stores(admin, OKU_TIMUR, units["KPU Kabupaten OKU Timur"])
    _build_ppk_stores(admin, OKU, units["KPU Kabupaten OKU"])
    _build_tps(admin, OKU_TIMUR, units["KPU Kabupaten OKU Timur"])
    tps = Site.objects.filter(kind=SiteKind.TPS, region__code__startswith=OKU_TIMUR + ".")
    return WorldReport(
        sites=Site.objects.count(),
        tps=tps.count(),
        voters=tps.aggregate(total=Sum("voters"))["total"] or 0,
        accounts=ACCOUNTS,
    )


def demo_second_factor_accounts() -> list[str]:
    """The demo accounts whose role signs in with a second factor, in ACCOUNTS' order."""
    users = {
        u.username: u for u in User.objects.filter(username__in=[a.username for a in ACCOUNTS])
    }
    return [
        a.username
        for a in ACCOUNTS
        if a.username in users and requires_second_factor(users[a.username])
    ]


def _ensure_demo_second_factors() -> None:
    """Every demo account that needs a second factor gets the documented demo authenticator
    (SIAGA_DEMO_TOTP_SECRET), so that the demo can be signed into from any authenticator app
    or with ``siaga demo_otp <username>``."""
    key = demo_totp_secret_hex()
    for username in demo_second_factor_accounts():
        user = User.objects.get(username=username)
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(user=user, name="authenticator", key=key, confirmed=True)


def _ensure_user(account: DemoAccount, password: str, *, superuser: bool) -> User:
    user = User.objects.filter(username=account.username).first()
    if user is None:
        user = User(
            username=account.username,
            first_name=account.first_name,
            last_name=account.last_name,
            is_staff=superuser,
            is_superuser=superuser,
        )
        user.set_password(password)
        user.save()
    return user


def _build_ppk_stores(admin: User, kabupaten: str, unit: AgencyUnit) -> None:
    for kecamatan in Region.objects.filter(parent_id=kabupaten).order_by("code"):
        rng = random.Random(kecamatan.code)
        lat, lon = _point(rng, kabupaten)
        code = f"PPK-{kecamatan.code}"
        site = create_site(
            actor=admin,
            id=stable_id("site", code),
            code=code,
            name=f"Gudang PPK {kecamatan.name}",
            kind=SiteKind.PPK,
            region_code=kecamatan.code,
            owner_unit_id=unit.pk,
            address=f"Kantor Camat {kecamatan.name}",
            latitude=lat,
            longitude=lon,
            synthetic=True,
        ).obj
        _add_zones(admin, site, PPK_ZONES)


def _add_zones(admin: User, site: Site, zones: Sequence[tuple[str, str, bool]]) -> None:
    for zone_name, zone_kind, restricted in zones:
        create_zone(
            actor=admin,
            site_id=site.pk,
            id=stable_id("zone", site.code, zone_name),
            name=zone_name,
            kind=zone_kind,
            restricted=restricted,
        )


def _build_tps(admin: User, kabupaten: str, unit: AgencyUnit) -> None:
    desa_list = Region.objects.filter(level=4, code__startswith=kabupaten + ".").order_by("code")
    existing = set(
        Site.objects.filter(
            kind=SiteKind.TPS, region__code__startswith=kabupaten + "."
        ).values_list("code", flat=True)
    )
    for desa in desa_list:
        rng = random.Random(desa.code)
        desa_voters = rng.randint(450, 2900)
        center = _point(rng, kabupaten)
        for number, voters in enumerate(split_voters(desa_voters), start=1):
            code = f"TPS-{desa.code}-{number:03d}"
            if code in existing:
                continue
            create_site(
                actor=admin,
                id=stable_id("site", code),
                code=code,
                name=f"TPS {number:03d} {desa.name}",
                kind=SiteKind.TPS,
                region_code=desa.code,
                owner_unit_id=unit.pk,
                address=f"{desa.get_kind_display()} {desa.name}",
                latitude=center[0] + Decimal(f"{rng.uniform(-0.01, 0.01):.6f}"),
                longitude=center[1] + Decimal(f"{rng.uniform(-0.01, 0.01):.6f}"),
                voters=voters,
                synthetic=True,
            )


def witness_demo_ledger() -> tuple[int, str] | None:
    """Sign a checkpoint and have the Bawaslu supervisor of OKU Timur co-sign it, with a
    witness key kept under SIAGA_HOME as an offline key holder would keep it."""
    from pathlib import Path

    from django.conf import settings
    from django.utils import timezone

    from siaga.ledger import keys
    from siaga.ledger import services as ledger
    from siaga.ledger.models import Cosignature
    from siaga.ledger.witness import generate_key, load_key, witness_checkpoint, witness_vkey

    checkpoint = ledger.make_checkpoint()
    if checkpoint is None:
        return None
    supervisor = User.objects.get(username="bawaslu.okut")
    name = "bawaslu-okut-demo"
    key_file = Path(settings.SIAGA_HOME) / "witness-bawaslu.okut.pem"
    key = load_key(key_file) if key_file.exists() else generate_key(key_file)
    witness = ledger.register_witness_key(actor=supervisor, vkey=witness_vkey(name, key))
    last = (
        Cosignature.objects.filter(witness=witness)
        .select_related("checkpoint")
        .order_by("-checkpoint__size")
        .first()
    )
    if last is None or last.checkpoint.size < checkpoint.size:
        previous = last.checkpoint if last else None
        line = witness_checkpoint(
            new_note=checkpoint.note,
            previous_note=previous.note if previous else None,
            consistency=ledger.consistency_proof(previous.size, checkpoint.size)
            if previous
            else [],
            instance_vkey=keys.instance_verifier_key(),
            key=key,
            name=name,
            timestamp=int(timezone.now().timestamp()),
        )
        ledger.add_cosignature(actor=supervisor, size=checkpoint.size, signature_line=line)
    return checkpoint.size, name

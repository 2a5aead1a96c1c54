"""The distribution chain of OKU Timur for custody tests: the KPU warehouse, PPK Martapura, PPS
Pasar Martapura with two TPS, a TPS in Buay Madang, the election with its catalogue, a vendor
delivery in stock, and a PPK receiver. Import the fixtures into a test module to use them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Agency, AgencyUnit, User
from siaga.accounts.services import add_membership
from siaga.core.idempotency import Created
from siaga.logistics import services
from siaga.logistics.models import Election, Package
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from tests.conftest import World

WIB = ZoneInfo("Asia/Jakarta")
# H-5 of a voting day on 14 February 2029.
H5 = dt.datetime(2029, 2, 9, 8, 0, tzinfo=WIB)
ELECTION = "pemilu-2029"
BALLOTS = ["ss-ppwp", "ss-dpr", "ss-dpd", "ss-dprd-prov", "ss-dprd-kab"]


@dataclass
class Chain:
    election: Election
    warehouse: Site
    ppk: Site
    pps: Site
    tps1: Site
    tps2: Site
    tps_far: Site  # in Buay Madang: not served by PPK Martapura
    ppk_martapura: User  # KPU operator of the PPK (kecamatan scope)


def tps(code: str, region: str, unit: AgencyUnit, voters: int) -> Site:
    return Site.objects.create(
        code=code, name=code, kind=SiteKind.TPS, region_id=region, owner_unit=unit, voters=voters
    )


@pytest.fixture(name="chain")
def chain_fixture(world: World, operator_okut: User) -> Chain:
    election = services.seed_catalogue(
        code=ELECTION, name="Pemilu 2029", voting_day=dt.date(2029, 2, 14)
    )
    unit = AgencyUnit.objects.get(agency__kind=AgencyKind.KPU, region_id="16.08")
    ppk_unit = AgencyUnit.objects.create(
        agency=Agency.objects.get(kind=AgencyKind.KPU), region_id="16.08.01", name="PPK Martapura"
    )
    receiver = User.objects.create(username="ppk.martapura", first_name="Sari")
    add_membership(actor=None, user=receiver, unit=ppk_unit, role=Role.KPU_OPERATOR)
    ppk = Site.objects.create(
        code="PPK-16.08.01",
        name="Gudang PPK Martapura",
        kind=SiteKind.PPK,
        region_id="16.08.01",
        owner_unit=unit,
    )
    pps = Site.objects.create(
        code="PPS-16.08.01.1008",
        name="PPS Pasar Martapura",
        kind=SiteKind.PPS,
        region_id="16.08.01.1008",
        owner_unit=unit,
    )
    chain = Chain(
        election=election,
        warehouse=world.warehouse_okut,
        ppk=ppk,
        pps=pps,
        tps1=tps("TPS-16.08.01.1008-001", "16.08.01.1008", unit, 250),
        tps2=tps("TPS-16.08.01.1008-002", "16.08.01.1008", unit, 180),
        tps_far=tps("TPS-16.08.02.2001-001", "16.08.02.2001", unit, 200),
        ppk_martapura=receiver,
    )
    services.record_receipt(
        actor=operator_okut,
        id=uuid.uuid4(),
        site_id=chain.warehouse.pk,
        election=ELECTION,
        vendor="PT Percetakan Sriwijaya",
        delivery_note="SJ-0001",
        lines=[
            *(services.ReceiptLineIn(code, 2000, 2000) for code in BALLOTS),
            services.ReceiptLineIn("kotak-suara", 50, 50),
            services.ReceiptLineIn("tinta", 20, 20),
        ],
        now=H5 - dt.timedelta(days=20),
    )
    return chain


def pack(
    chain: Chain,
    actor: User,
    destination: Site,
    seals: list[str],
    *,
    ballots: int = 255,
    code: str | None = None,
) -> Created[Package]:
    return services.pack_package(
        actor=actor,
        id=uuid.uuid4(),
        site_id=chain.warehouse.pk,
        destination_id=destination.pk,
        election=ELECTION,
        kind="box",
        lines=[services.Line("ss-ppwp", ballots), services.Line("tinta", 2)],
        seals=seals,
        code=code,
        now=H5 - dt.timedelta(days=2),
    )

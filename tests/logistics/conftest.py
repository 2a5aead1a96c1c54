"""Logistics fixtures: the Pemilu 2024 catalogue, and a ``logi`` builder for stores, TPS,
packages and handovers written straight to the database — for tests of what is read, not of
the services that write it."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from siaga.accounts.models import AgencyUnit, User
from siaga.logistics.choices import (
    DiscrepancyState,
    HandoverState,
    Leg,
    PackageKind,
    PackageState,
)
from siaga.logistics.models import (
    Discrepancy,
    Election,
    Handover,
    HandoverPackage,
    ItemType,
    Package,
    PackageLine,
)
from siaga.logistics.services import seed_catalogue
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from tests.conftest import World

WIB = ZoneInfo("Asia/Jakarta")
VOTING_DAY = dt.date(2024, 2, 14)


def wib(day: int, hour: int = 10, month: int = 2, year: int = 2024) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=WIB)


@pytest.fixture
def election(db: None) -> Election:
    """Pemilu 2024 with the real catalogue and need rules."""
    return seed_catalogue()


class Logi:
    """Builds logistics rows directly. Codes are numbered so that each call makes new ones."""

    def __init__(self, world: World, actor: User) -> None:
        self.world = world
        self.actor = actor
        self.unit: AgencyUnit = world.units["kpu:16.08"]
        self._numbers = itertools.count(1)

    def item(self, election: Election, code: str) -> ItemType:
        return ItemType.objects.get(election=election, code=code)

    def site(
        self, kind: str, region: str, *, code: str = "", voters: int | None = None, **extra: Any
    ) -> Site:
        n = next(self._numbers)
        return Site.objects.create(
            code=code or f"{kind.upper()}-{region}-{n:03d}",
            name=extra.pop("name", f"{kind.upper()} {n:03d} {region}"),
            kind=kind,
            region_id=region,
            owner_unit=extra.pop("owner_unit", self.unit),
            voters=voters if kind == SiteKind.TPS else None,
            **extra,
        )

    def tps(self, region: str, voters: int, **extra: Any) -> Site:
        return self.site(SiteKind.TPS, region, voters=voters, **extra)

    def package(
        self,
        election: Election,
        destination: Site,
        lines: Mapping[str, int],
        *,
        origin: Site | None = None,
        state: str = PackageState.PACKED,
        handover: Handover | None = None,
        received_at_tps: dt.datetime | None = None,
        packed_at: dt.datetime | None = None,
    ) -> Package:
        n = next(self._numbers)
        package = Package.objects.create(
            code=f"PKG-{n:05d}",
            election=election,
            kind=PackageKind.BOX,
            origin=origin or self.world.warehouse_okut,
            destination=destination,
            location=origin or self.world.warehouse_okut,
            state=state,
            handover=handover,
            packed_at=packed_at or wib(1),
            packed_by=self.actor,
            received_at_tps=received_at_tps,
        )
        items = {i.code: i for i in ItemType.objects.filter(election=election, code__in=lines)}
        PackageLine.objects.bulk_create(
            PackageLine(package=package, item=items[code], quantity=quantity)
            for code, quantity in lines.items()
        )
        return package

    def handover(
        self,
        election: Election,
        from_site: Site,
        to_site: Site,
        packages: list[Package],
        *,
        dispatched_at: dt.datetime,
        received_at: dt.datetime | None = None,
        leg: str = Leg.OUTBOUND,
        state: str | None = None,
    ) -> Handover:
        """A BAST carrying ``packages``; received (each package seen) when ``received_at`` is
        given. Each package's last handover becomes this one."""
        n = next(self._numbers)
        handover = Handover.objects.create(
            number=f"BAST-{n:05d}",
            election=election,
            leg=leg,
            from_site=from_site,
            to_site=to_site,
            state=state or (HandoverState.RECEIVED if received_at else HandoverState.DISPATCHED),
            giver=self.actor,
            dispatched_at=dispatched_at,
            receiver=self.actor if received_at else None,
            received_at=received_at,
        )
        HandoverPackage.objects.bulk_create(
            HandoverPackage(handover=handover, package=p, received=received_at is not None)
            for p in packages
        )
        Package.objects.filter(pk__in=[p.pk for p in packages]).update(handover=handover)
        for p in packages:
            p.handover = handover
        return handover

    def discrepancy(
        self,
        kind: str,
        package: Package,
        *,
        site: Site | None = None,
        item: ItemType | None = None,
        quantity: int | None = None,
        state: str = DiscrepancyState.OPEN,
        at: dt.datetime | None = None,
    ) -> Discrepancy:
        return Discrepancy.objects.create(
            kind=kind,
            state=state,
            site=site or package.destination,
            package=package,
            item=item,
            quantity=quantity,
            raised_at=at or wib(12),
            raised_by=self.actor,
        )


@pytest.fixture
def logi(world: World, operator_okut: User) -> Logi:
    return Logi(world, operator_okut)


@pytest.fixture(name="english")
def english_fixture(client_for: Any, settings: Any) -> Callable[[User | None], Client]:
    """``english(user)``: a test client signed in as ``user`` that reads the pages in English."""

    def make(user: User | None) -> Client:
        client: Client = client_for(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make

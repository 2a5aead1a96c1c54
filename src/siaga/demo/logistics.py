"""OKU Timur's logistics in mid-distribution, three days before voting day (H-3), for
kecamatan Martapura and Cempaka:

- H-25 the vendors' deliveries are counted in at the warehouse — the DPD ballots 40 sheets
  short, a discrepancy still open;
- H-20 sortir-lipat finds damaged sheets; H-18 they are destroyed before Bawaslu and police;
- H-10 every TPS gets three sealed packages: ballots, supplies, boxes and booths;
- H-5 BASTs take them to PPK Martapura and PPK Cempaka. At PPK Martapura one seal is not the
  BAST's: the alarm goes to KPU and Polres, the package is opened before witnesses, counted
  and sealed anew — the old seal stays on record as broken;
- H-4 each PPK hands over to its PPS, which must hold them by H-4. PPS Sukaraja has not
  signed its BAST: it is late.

Built through the services with stable ids; building again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Agency, AgencyUnit, Membership, User
from siaga.accounts.services import add_membership
from siaga.logistics import needs, services
from siaga.logistics.models import Discrepancy, Election, Handover, ItemType, Package, Stock
from siaga.regions.models import Region
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from siaga.sites.services import create_site

from .world import stable_id

ELECTION = "pemilu-2029"
WIB = ZoneInfo("Asia/Jakarta")
KECAMATAN = ("16.08.01", "16.08.04")  # Martapura, Cempaka
KECAMATAN_NAMES = ("martapura", "cempaka")
LATE_PPS = "16.08.04.2015"  # Desa Sukaraja, Cempaka
SHORT_ITEM, SHORT_BY = "ss-dpd", 40
BALLOTS = ("ss-ppwp", "ss-dpr", "ss-dpd", "ss-dprd-prov", "ss-dprd-kab")
BULKY = ("kotak-suara", "bilik-suara")  # the boxes and booths travel as one bundle
WITNESSES = [
    services.Witness("Aipda Rahmat Hidayat", "polri", "Danru"),
    services.Witness("Dewi Lestari", "bawaslu", "Pengawas"),
]


@dataclass
class LogisticsDay:
    voting_day: dt.date
    tps: int
    packages: int
    handovers: int
    open_discrepancies: int
    late_pps: str
    created: bool


def build_logistics(now: dt.datetime | None = None) -> LogisticsDay:
    """Build the distribution up to H-3 (the first build fixes voting day three days on)."""
    now = now or timezone.now()
    today = now.astimezone(WIB).date()
    election = Election.objects.filter(code=ELECTION).first()
    voting_day = election.voting_day if election else today + dt.timedelta(days=3)
    election = services.seed_catalogue(code=ELECTION, name="Pemilu 2029", voting_day=voting_day)
    if election.voting_day != voting_day:  # pragma: no cover - only a hand-edited database
        voting_day = election.voting_day
    marker = stable_id("handover", "ppk", KECAMATAN[0])
    created = not Handover.objects.filter(pk=marker).exists()
    if created:
        # The PPS must hold their logistics by H-4 here (the default is H-3).
        Election.objects.filter(pk=election.pk).update(pps_due_days=4)
        with transaction.atomic():
            _Build(election, voting_day).run()
    packages = Package.objects.filter(election=election)
    return LogisticsDay(
        voting_day=voting_day,
        tps=packages.values("destination").distinct().count(),
        packages=packages.count(),
        handovers=Handover.objects.filter(election=election).count(),
        open_discrepancies=Discrepancy.objects.filter(
            state="open", site__region__code__startswith="16.08"
        ).count(),
        late_pps=Region.objects.get(code=LATE_PPS).name,
        created=created,
    )


class _Build:
    def __init__(self, election: Election, voting_day: dt.date) -> None:
        self.election = election
        self.voting_day = voting_day
        self.operator = User.objects.get(username="kpu.okut")
        self.ppk_martapura = User.objects.get(username="ppk.martapura")
        # Who signs at each kecamatan: the PPK receives from the warehouse, the PPS from the
        # PPK; a BAST always has two different people on it.
        self.ppk_of = {
            k: User.objects.get(username=f"ppk.{n}")
            for k, n in zip(KECAMATAN, KECAMATAN_NAMES, strict=True)
        }
        self.pps_of = {
            k: User.objects.get(username=f"pps.{n}")
            for k, n in zip(KECAMATAN, KECAMATAN_NAMES, strict=True)
        }
        self.admin = User.objects.get(username="admin")
        self.warehouse = Site.objects.get(code="GUDANG-16.08")
        self.items = {i.code: i for i in ItemType.objects.filter(election=election)}
        self.by_id = {i.pk: i for i in self.items.values()}
        self.rules = needs.rules_of(election)
        self.tps = list(
            Site.objects.filter(kind=SiteKind.TPS, region__parent_id__in=KECAMATAN).order_by("code")
        )
        self.serial = 0

    def at(self, days_before: int, hour: int, minute: int = 0) -> dt.datetime:
        day = self.voting_day - dt.timedelta(days=days_before)
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=WIB)

    def next_seal(self) -> str:
        self.serial += 1
        return f"SG29-{self.serial:06d}"

    def run(self) -> None:
        need = {t.pk: needs.need_for_tps(self.rules, t.region_id, t.voters) for t in self.tps}
        self.receive(need)
        self.sort_and_destroy()
        packages = self.pack(need)
        self.to_ppk(packages, need)
        self.to_pps(packages)

    # H-25: the vendors' deliveries.
    def receive(self, need: dict[uuid.UUID, dict[int, int]]) -> None:
        total: dict[str, int] = {}
        for per_tps in need.values():
            for item_id, quantity in per_tps.items():
                code = self.by_id[item_id].code
                total[code] = total.get(code, 0) + quantity
        # Enough for the TPS, the sheets sortir-lipat will find damaged, and a little over.
        lines = []
        for code, quantity in sorted(total.items()):
            expected = quantity + (quantity // 50 if code in BALLOTS else 0) + 10
            counted = expected - SHORT_BY if code == SHORT_ITEM else expected
            lines.append(services.ReceiptLineIn(code, expected, counted))
        services.record_receipt(
            actor=self.operator,
            id=stable_id("receipt", "SJ-2029-0117"),
            site_id=self.warehouse.pk,
            election=ELECTION,
            vendor="PT Percetakan Sriwijaya Nusantara",
            delivery_note="SJ-2029-0117",
            vehicle_plate="BG 8123 KA",
            lines=lines,
            now=self.at(25, 9),
        )

    # H-20 / H-18: damaged sheets found, then destroyed before witnesses.
    def sort_and_destroy(self) -> None:
        damaged = {"ss-ppwp": 12, "ss-dpr": 30, "ss-dpd": 7, "ss-dprd-prov": 18, "ss-dprd-kab": 9}
        held = dict(  # every sheet delivered is sorted: the good ones are folded
            Stock.objects.filter(site=self.warehouse, item__code__in=damaged).values_list(
                "item__code", "quantity"
            )
        )
        services.record_sorting(
            actor=self.operator,
            id=stable_id("sorting", "2029-1"),
            site_id=self.warehouse.pk,
            election=ELECTION,
            started_at=self.at(20, 8),
            ended_at=self.at(20, 16),
            workers=40,
            lines=[
                services.SortingLineIn(
                    code,
                    good=held.get(code, 0) - count,
                    damaged=count,
                    reasons={"robek": count - count // 3, "noda": count // 3},
                    replacement_requested=count,
                )
                for code, count in damaged.items()
            ],
            note="Sortir-lipat di Gudang A, 40 pekerja harian.",
            now=self.at(20, 16),
        )
        services.record_destruction(
            actor=self.operator,
            id=stable_id("destruction", "2029-1"),
            site_id=self.warehouse.pk,
            election=ELECTION,
            method="Dibakar di halaman gudang",
            witnesses=WITNESSES,
            lines=[
                services.DestructionLineIn(code, damaged=count) for code, count in damaged.items()
            ],
            now=self.at(18, 10),
        )

    # H-10: three sealed packages per TPS.
    def pack(self, need: dict[uuid.UUID, dict[int, int]]) -> dict[uuid.UUID, list[Package]]:
        packed: dict[uuid.UUID, list[Package]] = {}
        for tps in self.tps:
            wanted = {self.by_id[i].code: q for i, q in need[tps.pk].items()}
            groups = [
                ("Surat suara", [c for c in BALLOTS if c in wanted]),
                ("Perlengkapan", [c for c in wanted if c not in BALLOTS and c not in BULKY]),
                ("Kotak dan bilik suara", [c for c in BULKY if c in wanted]),
            ]
            packed[tps.pk] = []
            for number, (label, codes) in enumerate(groups, start=1):
                packed[tps.pk].append(
                    services.pack_package(
                        actor=self.operator,
                        id=stable_id("package", tps.code, str(number)),
                        site_id=self.warehouse.pk,
                        destination_id=tps.pk,
                        election=ELECTION,
                        kind="box" if number == 1 else "bundle",
                        code=f"{tps.code}-{number:02d}",
                        label=label,
                        lines=[services.Line(c, wanted[c]) for c in codes],
                        seals=[self.next_seal(), self.next_seal()],
                        now=self.at(10, 8) + dt.timedelta(minutes=len(packed)),
                    ).obj
                )
        return packed

    def _ppk(self, kecamatan: str) -> Site:
        return Site.objects.get(code=f"PPK-{kecamatan}")

    # H-5: warehouse → PPK, scanned and signed at the PPK.
    def to_ppk(
        self, packed: dict[uuid.UUID, list[Package]], need: dict[uuid.UUID, dict[int, int]]
    ) -> None:
        for kecamatan in KECAMATAN:
            ppk = self._ppk(kecamatan)
            here = [t for t in self.tps if t.region_id.startswith(kecamatan + ".")]
            codes = [p.code for t in here for p in packed[t.pk]]
            handover = services.dispatch_handover(
                actor=self.operator,
                id=stable_id("handover", "ppk", kecamatan),
                from_site_id=self.warehouse.pk,
                to_site_id=ppk.pk,
                election=ELECTION,
                packages=codes,
                witnesses=WITNESSES,
                place="Gudang Logistik KPU OKU Timur",
                vehicle_plate="BG 8841 KB",
                now=self.at(5, 7),
            ).obj
            receiver = self.ppk_of[kecamatan]
            odd = packed[here[0].pk][0] if kecamatan == KECAMATAN[0] else None
            self.scan_all(handover, receiver, self.at(5, 11), odd_seal_on=odd)
            services.receive_handover(actor=receiver, handover_id=handover.pk, now=self.at(5, 12))
            if odd is not None:
                services.reseal_package(
                    actor=receiver,
                    id=stable_id("reseal", odd.code),
                    package=odd.code,
                    new_seals=[self.next_seal(), self.next_seal()],
                    counted=[
                        services.Line(line.item.code, line.quantity)
                        for line in odd.lines.select_related("item")
                    ],
                    witnesses=WITNESSES,
                    note="Dibuka di depan saksi Polri dan Bawaslu; isi lengkap; disegel ulang.",
                    now=self.at(5, 12, 30),
                )

    def scan_all(
        self,
        handover: Handover,
        receiver: User,
        at: dt.datetime,
        *,
        odd_seal_on: Package | None = None,
        skip: tuple[str, ...] = (),
    ) -> None:
        scans: list[services.ScanIn] = []
        for part in handover.packages.select_related("package"):
            code = part.package.code
            if code in skip:
                continue
            scans.append(
                services.ScanIn(
                    stable_id("scan", str(handover.pk), code), "receive", code, handover.pk, at
                )
            )
            for serial in part.seals:
                seen = serial
                if odd_seal_on is not None and code == odd_seal_on.code and serial == part.seals[0]:
                    seen = "SG29-X04117"  # a serial SIAGA never issued
                scans.append(
                    services.ScanIn(
                        stable_id("scan", str(handover.pk), seen),
                        "seal",
                        seen,
                        handover.pk,
                        at,
                        code,
                    )
                )
        for chunk in _chunks(scans, 500):
            services.ingest_scans(actor=receiver, scans=chunk, now=at)

    def _pps_member(self, user: User, desa: Region) -> None:
        """The kecamatan's PPS operator serves each of its PPS (one unit per desa)."""
        unit = _pps_unit(desa)
        if not Membership.objects.filter(user=user, unit=unit, active=True).exists():
            add_membership(actor=None, user=user, unit=unit, role=Role.KPU_OPERATOR)

    # H-4: PPK → PPS; PPS Sukaraja does not sign.
    def to_pps(self, packed: dict[uuid.UUID, list[Package]]) -> None:
        unit = self.warehouse.owner_unit
        for kecamatan in KECAMATAN:
            ppk = self._ppk(kecamatan)
            giver, receiver = self.ppk_of[kecamatan], self.pps_of[kecamatan]
            for desa in Region.objects.filter(parent_id=kecamatan).order_by("code"):
                here = [t for t in self.tps if t.region_id == desa.code]
                if not here:
                    continue
                pps = create_site(
                    actor=self.admin,
                    id=stable_id("site", f"PPS-{desa.code}"),
                    code=f"PPS-{desa.code}",
                    name=f"PPS {desa.name}",
                    kind=SiteKind.PPS,
                    region_code=desa.code,
                    owner_unit_id=unit.pk,
                    address=f"Kantor {desa.get_kind_display()} {desa.name}",
                    synthetic=True,
                ).obj
                self._pps_member(receiver, desa)
                handover = services.dispatch_handover(
                    actor=giver,
                    id=stable_id("handover", "pps", desa.code),
                    from_site_id=ppk.pk,
                    to_site_id=pps.pk,
                    election=ELECTION,
                    packages=[p.code for t in here for p in packed[t.pk]],
                    witnesses=WITNESSES[:1],
                    place=ppk.name,
                    now=self.at(4, 8),
                ).obj
                if desa.code == LATE_PPS:
                    continue  # dispatched, never signed for: late
                self.scan_all(handover, receiver, self.at(4, 13))
                services.receive_handover(
                    actor=receiver, handover_id=handover.pk, now=self.at(4, 14)
                )


def _pps_unit(desa: Region) -> AgencyUnit:
    return AgencyUnit.objects.get_or_create(
        agency=Agency.objects.get(kind=AgencyKind.KPU),
        region_id=desa.code,
        defaults={"name": f"PPS {desa.name}"},
    )[0]


def _chunks[T](items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""Reconciliation: per TPS and rolled up to desa (PPS), kecamatan (PPK) and kabupaten, what was
needed against what was packed, dispatched, received, damaged and returned — and the flags a
commander acts on (shortage, excess, wrong destination, late).

Read-only and scoped: a user reconciles only a region they may see. The number of queries does
not grow with the number of TPS: every figure comes from a handful of grouped queries, joined
per TPS in Python."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import NotFound
from siaga.logistics.choices import (
    DiscrepancyKind,
    DiscrepancyState,
    HandoverState,
    Leg,
    PackageState,
)
from siaga.logistics.models import (
    Discrepancy,
    Election,
    HandoverPackage,
    ItemType,
    Package,
    PackageLine,
)
from siaga.logistics.needs import CODE_WIDTH, need_for_tps, rules_of
from siaga.regions.models import Region
from siaga.regions.timezones import time_zone_of
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

TPS_LEVEL = 5  # one below desa: the rows of a desa's table are its TPS
LEVEL_NAMES = {
    1: gettext_lazy("Province"),
    2: gettext_lazy("Regency/city"),
    3: gettext_lazy("District (PPK)"),
    4: gettext_lazy("Village (PPS)"),
    TPS_LEVEL: gettext_lazy("TPS"),
}
FIGURES = ("need", "packed", "dispatched", "received", "damaged", "returned")


@dataclass
class Figures:
    need: int = 0
    packed: int = 0
    dispatched: int = 0
    received: int = 0
    damaged: int = 0
    returned: int = 0

    def add(self, other: Figures) -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in FIGURES)


@dataclass
class Row:
    """One line of the reconciliation: a TPS, or a region summing its TPS.

    ``lines`` holds the figures per item id; ``total`` sums them (plus damage recorded against
    a package without an item). A region counts its TPS with each flag; a TPS counts 0 or 1."""

    code: str  # the region's code, or the TPS's site code
    name: str
    level: int
    region: str = ""  # the region's code, or the TPS's desa
    site_id: uuid.UUID | None = None
    last_received: dt.datetime | None = None
    voters: int = 0
    tps: int = 0
    lines: dict[int, Figures] = field(default_factory=dict)
    total: Figures = field(default_factory=Figures)
    packages: int = 0
    packages_dispatched: int = 0
    packages_received: int = 0
    packages_returned: int = 0
    shortage: int = 0
    excess: int = 0
    wrong_destination: int = 0
    late_tps: int = 0
    late: bool = False
    # Packages not received at a PPS / PPK by that level's due date.
    missed_pps: int = 0
    missed_ppk: int = 0

    def line(self, item_id: int) -> Figures:
        found = self.lines.get(item_id)
        if found is None:
            found = self.lines[item_id] = Figures()
        return found

    def absorb(self, other: Row) -> None:
        for item_id, figures in other.lines.items():
            self.line(item_id).add(figures)
        self.total.add(other.total)
        for name in (
            "voters",
            "tps",
            "packages",
            "packages_dispatched",
            "packages_received",
            "packages_returned",
            "shortage",
            "excess",
            "wrong_destination",
            "late_tps",
            "missed_pps",
            "missed_ppk",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def flags(self) -> list[str]:
        return [
            name
            for name, on in (
                ("shortage", self.shortage),
                ("excess", self.excess),
                ("wrong_destination", self.wrong_destination),
                ("late", self.late),
            )
            if on
        ]


@dataclass
class Reconciliation:
    """A region's reconciliation: its TPS, and the roll-ups above them."""

    election: Election
    region: Region | None
    today: dt.date
    items: list[ItemType]
    tps: list[Row]
    region_names: dict[str, str]

    @property
    def root(self) -> str:
        return self.region.code if self.region else ""

    @property
    def level(self) -> int:
        return self.region.level if self.region else 0

    @property
    def child_level(self) -> int:
        return self.level + 1

    def rollup(self, level: int) -> list[Row]:
        """One row per region at ``level`` (2 to 4) with TPS under it; ``TPS_LEVEL``: the TPS."""
        if level == TPS_LEVEL:
            return list(self.tps)
        width = CODE_WIDTH[level]
        groups: dict[str, Row] = {}
        for tps in self.tps:
            code = tps.region[:width]
            group = groups.get(code)
            if group is None:
                group = groups[code] = Row(
                    code=code, name=self.region_names.get(code, code), level=level, region=code
                )
            group.absorb(tps)
        for group in groups.values():
            self._judge_group(group)
        return sorted(groups.values(), key=lambda r: r.code)

    def children(self) -> list[Row]:
        return self.rollup(self.child_level)

    @property
    def total(self) -> Row:
        row = Row(
            code=self.root,
            name=self.region_names.get(self.root, self.root),
            level=self.level,
            region=self.root,
        )
        for tps in self.tps:
            row.absorb(tps)
        self._judge_group(row)
        return row

    def _judge_group(self, group: Row) -> None:
        if group.level == 4:
            due = self.election.due_date(SiteKind.PPS)
            group.late = self.today > due and group.missed_pps > 0
        elif group.level == 3:
            due = self.election.due_date(SiteKind.PPK)
            group.late = self.today > due and group.missed_ppk > 0
        else:
            group.late = group.late_tps > 0


def _end_of(day: dt.date, region_code: str) -> dt.datetime:
    """The first moment after ``day`` where ``region_code`` lies: a deadline's end."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, time_zone_of(region_code))


def local_today(region_code: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date where ``region_code`` lies (WIB, WITA or WIT)."""
    return (now or timezone.now()).astimezone(time_zone_of(region_code)).date()


def visible_region(user: Any, code: str) -> Region:
    """The region ``code`` if ``user`` may see it whole; ``NotFound`` otherwise, so that a
    stranger learns nothing of regions outside their scope."""
    region = Region.objects.filter(code=code).first() if code else None
    if region is None or not user_can(user, Action.VIEW, region.code):
        raise NotFound("region_not_found", gettext_lazy("No such region in your scope."))
    return region


def _subtree(field_name: str, root: str) -> Q:
    """Codes at or under ``root``, as a range an index can serve ('/' follows '.')."""
    return Q(**{field_name: root}) | Q(
        **{f"{field_name}__gt": root + ".", f"{field_name}__lt": root + "/"}
    )


def reconcile(
    *, user: Any, election: Election, region: str, today: dt.date | None = None
) -> Reconciliation:
    """The reconciliation of every TPS under ``region`` (a code the user may see), in a fixed
    number of queries however many TPS there are.

    ``today`` decides lateness (a due date passed); by default it is the region's local date.
    The need here is the TPS's own (per-voter and per-TPS rules): per-district reserves stay at
    the KPU Kabupaten and are never packed for a TPS."""
    root = visible_region(user, region)
    day = today or local_today(root.code)
    items = list(ItemType.objects.filter(election=election).order_by("position", "code"))
    rules = rules_of(election)
    sites = list(
        Site.objects.for_user(user, Action.VIEW)
        .filter(_subtree("region_id", root.code), kind=SiteKind.TPS)
        .order_by("region_id", "code")
        .values_list("pk", "code", "name", "region_id", "voters")
    )
    rows = {
        pk: Row(
            code=code,
            name=name,
            level=TPS_LEVEL,
            region=region_id,
            site_id=pk,
            voters=voters or 0,
            tps=1,
        )
        for pk, code, name, region_id, voters in sites
    }
    for row in rows.values():
        for item_id, quantity in need_for_tps(rules, row.region, row.voters).items():
            row.line(item_id).need = quantity
    if rows:
        _fill_movements(election, root.code, rows)
        _fill_discrepancies(election, root.code, rows)
        _fill_lateness(election, root.code, rows, day)
    for row in rows.values():
        _judge_tps(row)
    names = dict(Region.objects.filter(_subtree("code", root.code)).values_list("code", "name"))
    names[root.code] = root.name
    return Reconciliation(
        election=election,
        region=root,
        today=day,
        items=items,
        tps=list(rows.values()),
        region_names=names,
    )


def _packages(election: Election, root: str, via: str = "") -> Q:
    """Packages for a TPS under ``root``, of this election, not void (``via``: the path to the
    package from the model queried)."""
    p = f"{via}__" if via else ""
    return (
        Q(**{f"{p}election": election, f"{p}destination__kind": SiteKind.TPS})
        & _subtree(f"{p}destination__region_id", root)
        & ~Q(**{f"{p}state": PackageState.VOID})
    )


def _returned(package_field: str) -> Exists:
    """The package has come back: on a return BAST that the receiver has signed."""
    return Exists(
        HandoverPackage.objects.filter(
            package_id=OuterRef(package_field), handover__leg=Leg.RETURN
        ).exclude(handover__state=HandoverState.DISPATCHED)
    )


def _fill_movements(election: Election, root: str, rows: dict[uuid.UUID, Row]) -> None:
    packages = Package.objects.filter(_packages(election, root)).annotate(returned=_returned("pk"))
    lines = (
        PackageLine.objects.filter(_packages(election, root, "package"))
        .annotate(returned=_returned("package_id"))
        .values("package__destination_id", "item_id")
        .annotate(
            packed=Sum("quantity"),
            dispatched=Sum("quantity", filter=Q(package__handover__isnull=False)),
            received=Sum("quantity", filter=Q(package__received_at_tps__isnull=False)),
            back=Sum("quantity", filter=Q(returned=True)),
        )
    )
    for found in lines:
        row = rows.get(found["package__destination_id"])
        if row is None:  # a TPS outside the user's scope under a root they see: never, but safe
            continue
        figures = row.line(found["item_id"])
        figures.packed = found["packed"] or 0
        figures.dispatched = found["dispatched"] or 0
        figures.received = found["received"] or 0
        figures.returned = found["back"] or 0
    counts = packages.values("destination_id").annotate(
        total=Count("pk"),
        dispatched=Count("pk", filter=Q(handover__isnull=False)),
        received=Count("pk", filter=Q(received_at_tps__isnull=False)),
        back=Count("pk", filter=Q(returned=True)),
        last_received=Max("received_at_tps"),
    )
    for count in counts:
        row = rows.get(count["destination_id"])
        if row is None:
            continue
        row.packages = count["total"]
        row.packages_dispatched = count["dispatched"]
        row.packages_received = count["received"]
        row.packages_returned = count["back"]
        row.last_received = count["last_received"]


def _fill_discrepancies(election: Election, root: str, rows: dict[uuid.UUID, Row]) -> None:
    found = (
        Discrepancy.objects.filter(
            Q(kind=DiscrepancyKind.DAMAGED)
            | Q(kind=DiscrepancyKind.WRONG_DESTINATION, state=DiscrepancyState.OPEN),
            package__election=election,
            package__destination__kind=SiteKind.TPS,
        )
        .filter(_subtree("package__destination__region_id", root))
        .values("package__destination_id", "item_id", "kind")
        .annotate(quantity=Sum("quantity"), count=Count("pk"))
    )
    for entry in found:
        row = rows.get(entry["package__destination_id"])
        if row is None:
            continue
        if entry["kind"] == DiscrepancyKind.WRONG_DESTINATION:
            row.wrong_destination = 1
        elif entry["item_id"] is None:
            row.total.damaged += entry["quantity"] or 0
        else:
            row.line(entry["item_id"]).damaged += entry["quantity"] or 0


def _fill_lateness(
    election: Election, root: str, rows: dict[uuid.UUID, Row], today: dt.date
) -> None:
    """How many of each TPS's packages reached a PPS, and a PPK, by that level's due date."""
    deadlines: dict[str, dt.datetime] = {
        kind: _end_of(election.due_date(kind), root) for kind in (SiteKind.PPS, SiteKind.PPK)
    }
    reached = (
        HandoverPackage.objects.filter(
            received=True,
            handover__to_site__kind__in=list(deadlines),
            handover__received_at__isnull=False,
            package__election=election,
            package__destination__kind=SiteKind.TPS,
        )
        .filter(_subtree("package__destination__region_id", root))
        .exclude(package__state=PackageState.VOID)
        .values("package__destination_id", "package_id", "handover__to_site__kind")
        .annotate(first=Min("handover__received_at"))
    )
    in_time: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
    for entry in reached:
        kind = entry["handover__to_site__kind"]
        if entry["first"] < deadlines[kind]:
            in_time[(entry["package__destination_id"], kind)] += 1
    tps_deadline = election.due_date(SiteKind.TPS)
    for pk, row in rows.items():
        row.missed_pps = row.packages - in_time[(pk, SiteKind.PPS)]
        row.missed_ppk = row.packages - in_time[(pk, SiteKind.PPK)]
        last = row.last_received
        arrived_late = last is not None and last >= _end_of(tps_deadline, row.region)
        missing = today > tps_deadline and row.packages_received < row.packages
        row.late = arrived_late or missing
        row.late_tps = int(row.late)


def _judge_tps(row: Row) -> None:
    """Shortage and excess item by item, and the totals."""
    for figures in row.lines.values():
        row.total.add(figures)
        if figures.packed < figures.need:
            row.shortage = 1
        if figures.packed > figures.need:
            row.excess = 1


# --- export ----------------------------------------------------------------------------------


def export_workbook(recon: Reconciliation, *, level: int | None = None) -> bytes:
    """The reconciliation at ``level`` (by default the children of its region) as a workbook:
    one sheet of totals per row with its flags, one of the figures per row and item."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    rows = recon.rollup(level if level is not None else recon.child_level)
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    figure_labels = [
        _("Need"),
        _("Packed"),
        _("Dispatched"),
        _("Received"),
        _("Damaged"),
        _("Returned"),
    ]

    def header(sheet: Any, texts: Iterable[str]) -> None:
        cells = []
        for text in texts:
            cell = WriteOnlyCell(sheet, value=str(text))
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)

    totals = book.create_sheet(_("Reconciliation")[:31])
    header(
        totals,
        [
            _("Code"),
            _("Name"),
            _("TPS"),
            _("Voters"),
            _("Packages"),
            *figure_labels,
            _("Shortage"),
            _("Excess"),
            _("Wrong destination"),
            _("Late"),
        ],
    )
    for row in rows:
        totals.append(
            [
                row.code,
                row.name,
                row.tps,
                row.voters,
                row.packages,
                *row.total.as_tuple(),
                row.shortage,
                row.excess,
                row.wrong_destination,
                int(row.late),
            ]
        )
    per_item = book.create_sheet(_("Per item")[:31])
    header(per_item, [_("Code"), _("Name"), _("Item"), *figure_labels])
    for row in rows:
        for item in recon.items:
            figures = row.lines.get(item.pk)
            if figures is None:
                continue
            per_item.append([row.code, row.name, item.name, *figures.as_tuple()])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

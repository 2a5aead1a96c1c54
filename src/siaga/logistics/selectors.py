"""Reconciliation: per TPS and rolled up to desa (PPS), kecamatan (PPK) and kabupaten, what was
needed against what was packed, dispatched, received, damaged and returned — and the flags a
commander acts on (shortage, excess, wrong destination, late).

Read-only and scoped: a user reconciles only a region they may see. The number of queries does
not grow with the number of TPS: every figure comes from a handful of grouped queries, joined
per TPS in Python."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import NotFound
from siaga.core.excel import ExcelWriter
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
    Handover,
    HandoverPackage,
    ItemType,
    Package,
    PackageLine,
)
from siaga.logistics.needs import CODE_WIDTH, RuleSpec, need_for_tps, rules_of
from siaga.regions.codes import subtree_q
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


@dataclass(slots=True)
class Figures:
    need: int = 0
    packed: int = 0
    dispatched: int = 0
    received: int = 0
    damaged: int = 0
    returned: int = 0

    def add(self, other: Figures) -> None:
        self.need += other.need
        self.packed += other.packed
        self.dispatched += other.dispatched
        self.received += other.received
        self.damaged += other.damaged
        self.returned += other.returned

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in FIGURES)


Counts = tuple[int, ...]  # the six FIGURES of one item, in their order


@dataclass(slots=True)
class Row:
    """One line of the reconciliation: a TPS, or a region summing its TPS.

    ``counts`` holds the figures per item id as plain tuples of ints (``lines`` gives them as
    ``Figures``): the garbage collector stops tracking such a tuple, so a kabupaten's tens of
    thousands of them are not walked again by every full collection while the result lives.
    ``total`` sums them (plus damage recorded against a package without an item). A region
    counts its TPS with each flag; a TPS counts 0 or 1."""

    code: str  # the region's code, or the TPS's site code
    name: str
    level: int
    region: str = ""  # the region's code, or the TPS's desa
    site_id: uuid.UUID | None = None
    last_received: dt.datetime | None = None
    voters: int = 0
    tps: int = 0
    counts: dict[int, Counts] = field(default_factory=dict)
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

    @property
    def lines(self) -> dict[int, Figures]:
        """The figures per item id."""
        return {item_id: Figures(*counts) for item_id, counts in self.counts.items()}

    def absorb(self, other: Row, parts: dict[int, list[Counts]]) -> None:
        """Add ``other``'s figures to this row's; its items' go into ``parts`` to be summed
        by ``settle`` (column by column, which is quicker than adding tuple by tuple)."""
        for item_id, counts in other.counts.items():
            found = parts.get(item_id)
            if found is None:
                parts[item_id] = [counts]
            else:
                found.append(counts)
        self.total.add(other.total)
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def settle(self, parts: dict[int, list[Counts]]) -> None:
        """The items' figures: what ``absorb`` gathered, summed."""
        self.counts = {
            item_id: tuple(map(sum, zip(*found, strict=True))) for item_id, found in parts.items()
        }

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


_SUMMED = (
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
)


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
        groups: dict[str, tuple[Row, dict[int, list[Counts]]]] = {}
        for tps in self.tps:
            code = tps.region[:width]
            found = groups.get(code)
            if found is None:
                group = Row(
                    code=code, name=self.region_names.get(code, code), level=level, region=code
                )
                found = groups[code] = (group, {})
            found[0].absorb(tps, found[1])
        for group, parts in groups.values():
            group.settle(parts)
            self._judge_group(group)
        return sorted((group for group, _parts in groups.values()), key=lambda r: r.code)

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
        parts: dict[int, list[Counts]] = {}
        for tps in self.tps:
            row.absorb(tps, parts)
        row.settle(parts)
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
    """Codes at or under ``root``, as one range an index serves and the planner can estimate
    ('/' follows '.'). A Kemendagri code is dotted digits of fixed widths
    (``regions.codes``), so the only codes in the range are ``root`` and those that begin with
    ``root`` and a dot."""
    return Q(**{f"{field_name}__gte": root, f"{field_name}__lt": root + "/"})


class _Needs:
    """``need_for_tps``, worked out once per set of rules that apply and number of voters: a
    kabupaten's thousands of TPS share a few hundred."""

    def __init__(self, rules: list[RuleSpec]) -> None:
        self.rules = rules
        self._applying: dict[str, tuple[bool, ...]] = {}
        self._needs: dict[tuple[tuple[bool, ...], int], dict[int, int]] = {}

    def of(self, region_code: str, voters: int) -> dict[int, int]:
        """The need of a TPS (shared: the caller must not change it)."""
        applying = self._applying.get(region_code)
        if applying is None:
            applying = tuple(not rule.excludes(region_code) for rule in self.rules)
            self._applying[region_code] = applying
        key = (applying, voters)
        need = self._needs.get(key)
        if need is None:
            need = self._needs[key] = need_for_tps(self.rules, region_code, voters)
        return need


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
    sites = (
        Site.objects.for_user(user, Action.VIEW)
        .filter(_subtree("region_id", root.code), kind=SiteKind.TPS)
        .order_by("region_id", "code")
        .values_list("pk", "code", "name", "region_id", "voters")
    )
    # Keyed by the site's code (unique): what the queries below group by.
    rows = {
        code: Row(
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
    needs = _Needs(rules_of(election))
    need_of = {code: needs.of(row.region, row.voters) for code, row in rows.items()}
    if rows:
        packages = _TpsPackages(election, root.code)
        _fill_packages(packages, rows, day)
        extra = _damaged(packages, rows)
        if any(row.packages_returned for row in rows.values()):
            _add_returned(packages, extra)
        _fill_lines(packages, rows, need_of, extra)
    _add_unpacked(rows, need_of)
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


# --- the queries behind the figures -------------------------------------------------------------
#
# Written out in SQL rather than built by the ORM, for their plans. Without planner statistics
# SQLite would walk every package of the election by its election index and look each one's
# destination up (a whole province, or the nation, for one kabupaten); "CROSS JOIN" makes it
# loop over the TPS under the root first (index site_kind_region), then their packages
# (package_destination), then their lines. PostgreSQL plans a CROSS JOIN like any inner join.
# They group by the TPS's code: a plain string on every database.


@dataclass(frozen=True)
class _TpsPackages:
    """The packages for the TPS under ``root`` of ``election`` (``s`` the TPS, ``p`` the
    package): the tables and conditions the queries share, and their parameters."""

    election: Election
    root: str

    @property
    def tables(self) -> str:
        return f"{_table(Site)} s CROSS JOIN {_table(Package)} p"

    def where(self, *, void: bool = False) -> tuple[str, list[Any]]:
        """Conditions on ``s`` and ``p``; void packages count only with ``void``."""
        sql = (
            'p."destination_id" = s."id" AND s."kind" = %s '
            'AND s."region_id" >= %s AND s."region_id" < %s AND p."election_id" = %s'
        )
        root = self.root  # the range of _subtree
        params = [SiteKind.TPS, root, root + "/", self.election.pk]
        if not void:
            sql += ' AND p."state" <> %s'
            params.append(PackageState.VOID)
        return sql, params


def _table(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _returned() -> tuple[str, list[Any]]:
    """Package ``p`` has come back: on a return BAST that the receiver has signed."""
    return (
        f"EXISTS (SELECT 1 FROM {_table(HandoverPackage)} hp "  # noqa: S608 - table names from the models, values as parameters
        f'JOIN {_table(Handover)} h ON h."id" = hp."handover_id" '
        'WHERE hp."package_id" = p."id" AND h."leg" = %s AND h."state" <> %s)'
    ), [Leg.RETURN, HandoverState.DISPATCHED]


def _deadlines(election: Election, root: str) -> list[Any]:
    """The ends of the PPS and PPK due dates where ``root`` lies, as query parameters."""
    return [
        connection.ops.adapt_datetimefield_value(_end_of(election.due_date(kind), root))
        for kind in (SiteKind.PPS, SiteKind.PPK)
    ]


def _package_facts(packages: _TpsPackages) -> tuple[str, list[Any]]:
    """Per TPS: packages, dispatched, received at the TPS, returned, the last arrival, and
    those received at a PPS and at a PPK in time. Each package's BAST lines are joined once
    (by the lines' package index, then each line's handover and its receiver by their keys)
    and summed up per package as flags (1 returned, 2 at a PPS in time, 4 at a PPK in time),
    then per TPS. The cost follows the packages of the region, not the country's BASTs: an
    EXISTS per flag ran as a sub-plan per package that PostgreSQL, with the national TPS
    registry loaded, chose to answer by scanning every handover (0.5 s for a kabupaten)."""
    pps_end, ppk_end = _deadlines(packages.election, packages.root)
    where, params = packages.where()
    flags = (
        'MAX(CASE WHEN h."leg" = %s AND h."state" <> %s THEN 1 ELSE 0 END) '
        '+ MAX(CASE WHEN hp."received" = %s AND t."kind" = %s AND h."received_at" < %s '
        "THEN 2 ELSE 0 END) "
        '+ MAX(CASE WHEN hp."received" = %s AND t."kind" = %s AND h."received_at" < %s '
        "THEN 4 ELSE 0 END)"
    )
    flag_params: list[Any] = [Leg.RETURN, HandoverState.DISPATCHED]
    flag_params += [True, SiteKind.PPS, pps_end, True, SiteKind.PPK, ppk_end]
    return (
        'SELECT x."code", COUNT(*), SUM(x."dispatched"), SUM(x."received"), '  # noqa: S608 - table names from the models, values as parameters
        'SUM(x."flags" & 1), MAX(x."at"), SUM((x."flags" & 2) / 2), SUM((x."flags" & 4) / 4) '
        'FROM (SELECT s."code" AS "code", '
        'CASE WHEN p."handover_id" IS NULL THEN 0 ELSE 1 END AS "dispatched", '
        'CASE WHEN p."received_at_tps" IS NULL THEN 0 ELSE 1 END AS "received", '
        f'p."received_at_tps" AS "at", {flags} AS "flags" '
        f"FROM {packages.tables} "
        f'LEFT JOIN {_table(HandoverPackage)} hp ON hp."package_id" = p."id" '
        f'LEFT JOIN {_table(Handover)} h ON h."id" = hp."handover_id" '
        f'LEFT JOIN {_table(Site)} t ON t."id" = h."to_site_id" '
        f"WHERE {where} "
        'GROUP BY s."code", p."id", p."handover_id", p."received_at_tps") x GROUP BY x."code"'
    ), [*flag_params, *params]


def _add_unpacked(rows: dict[str, Row], need_of: dict[str, dict[int, int]]) -> None:
    """A line for each item a TPS needs and has nothing packed of."""
    for code, row in rows.items():
        need, counts = need_of[code], row.counts
        if need.keys() <= counts.keys():
            continue
        for item_id, quantity in need.items():
            if item_id not in counts:
                counts[item_id] = (quantity, 0, 0, 0, 0, 0)


# Per TPS code and item id: (damaged, returned), where either is not 0.
_Extra = dict[tuple[str, int], tuple[int, int]]


def _fill_lines(
    packages: _TpsPackages,
    rows: dict[str, Row],
    need_of: dict[str, dict[int, int]],
    extra: _Extra,
) -> None:
    """Per TPS and item: the need (``need_of``, by TPS code), what was packed, dispatched and
    received at the TPS, and what ``extra`` says was damaged and returned. Each line is made
    once, whole."""
    where, params = packages.where()
    found = _fetch(
        'SELECT s."code", l."item_id", SUM(l."quantity"), '  # noqa: S608 - table names from the models, values as parameters
        'SUM(CASE WHEN p."handover_id" IS NULL THEN 0 ELSE l."quantity" END), '
        'SUM(CASE WHEN p."received_at_tps" IS NULL THEN 0 ELSE l."quantity" END) '
        f"FROM {packages.tables} CROSS JOIN {_table(PackageLine)} l "
        f'WHERE {where} AND l."package_id" = p."id" GROUP BY s."code", l."item_id"',
        params,
    )
    code_now, counts, need = None, None, {}  # consecutive rows mostly share their TPS
    for code, item_id, packed, dispatched, received in found:
        if code != code_now:
            code_now = code
            row = rows.get(code)
            counts = None if row is None else row.counts
            need = need_of.get(code, {})
        if counts is None:  # a TPS outside the user's scope under a root they see: never
            continue
        damaged, returned = extra.pop((code, item_id), (0, 0)) if extra else (0, 0)
        counts[item_id] = (need.get(item_id, 0), packed, dispatched, received, damaged, returned)
    for (code, item_id), (damaged, returned) in extra.items():  # on no line packed
        row = rows.get(code)
        if row is not None:
            need_now = need_of.get(code, {}).get(item_id, 0)
            row.counts[item_id] = (need_now, 0, 0, 0, damaged, returned)


def _add_returned(packages: _TpsPackages, extra: _Extra) -> None:
    """What came back per TPS and item, into ``extra``. A query of its own, with the test in
    the WHERE clause: that checks each package once, not each line."""
    where, params = packages.where()
    returned, returned_params = _returned()
    found = _fetch(
        'SELECT s."code", l."item_id", SUM(l."quantity") '  # noqa: S608 - table names from the models, values as parameters
        f"FROM {packages.tables} CROSS JOIN {_table(PackageLine)} l "
        f'WHERE {where} AND l."package_id" = p."id" AND {returned} '
        'GROUP BY s."code", l."item_id"',
        [*params, *returned_params],
    )
    for code, item_id, back in found:
        damaged, _returned_before = extra.get((code, item_id), (0, 0))
        extra[(code, item_id)] = (damaged, back or 0)


def _fill_packages(packages: _TpsPackages, rows: dict[str, Row], today: dt.date) -> None:
    """How many packages each TPS has, dispatched, received and returned; when the last one
    arrived; how many reached a PPS, and a PPK, by that level's due date; and so whether the
    TPS is late."""
    election = packages.election
    sql, params = _package_facts(packages)
    found = _fetch(sql, params)
    in_time: dict[str, tuple[int, int]] = {}
    for code, total, dispatched, received, back, last, pps_in_time, ppk_in_time in found:
        row = rows.get(code)
        if row is None:
            continue
        row.packages = total
        row.packages_dispatched = dispatched
        row.packages_received = received
        row.packages_returned = back
        row.last_received = _datetime(last)
        in_time[code] = (pps_in_time, ppk_in_time)
    tps_deadline = election.due_date(SiteKind.TPS)
    tps_ends: dict[str, dt.datetime] = {}
    for code, row in rows.items():
        pps_in_time, ppk_in_time = in_time.get(code, (0, 0))
        row.missed_pps = row.packages - pps_in_time
        row.missed_ppk = row.packages - ppk_in_time
        last = row.last_received
        if last is not None:
            end = tps_ends.get(row.region)
            if end is None:
                end = tps_ends[row.region] = _end_of(tps_deadline, row.region)
            arrived_late = last >= end
        else:
            arrived_late = False
        missing = today > tps_deadline and row.packages_received < row.packages
        row.late = arrived_late or missing
        row.late_tps = int(row.late)


def _datetime(value: Any) -> dt.datetime | None:
    """A timestamp as the database gives it from an aggregate: SQLite's is text, in UTC."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)


def _damaged(packages: _TpsPackages, rows: dict[str, Row]) -> _Extra:
    """Damage per TPS and item, returned as ``(damaged, 0)``; damage against a package as a
    whole goes into its TPS's total, and any open report of a package at the wrong
    destination flags the TPS. Void packages count here too."""
    where, params = packages.where(void=True)
    found = _fetch(
        'SELECT s."code", d."item_id", d."kind", SUM(d."quantity") '  # noqa: S608 - table names from the models, values as parameters
        f"FROM {packages.tables} CROSS JOIN {_table(Discrepancy)} d "
        f'WHERE {where} AND d."package_id" = p."id" '
        'AND (d."kind" = %s OR (d."kind" = %s AND d."state" = %s)) '
        'GROUP BY s."code", d."item_id", d."kind"',
        [
            *params,
            DiscrepancyKind.DAMAGED,
            DiscrepancyKind.WRONG_DESTINATION,
            DiscrepancyState.OPEN,
        ],
    )
    extra: _Extra = {}
    for code, item_id, kind, quantity in found:
        row = rows.get(code)
        if row is None:
            continue
        if kind == DiscrepancyKind.WRONG_DESTINATION:
            row.wrong_destination = 1
        elif item_id is None:
            row.total.damaged += quantity or 0
        else:
            damaged, returned = extra.get((code, item_id), (0, 0))
            extra[(code, item_id)] = (damaged + (quantity or 0), returned)
    return extra


def _judge_tps(row: Row) -> None:
    """Shortage and excess item by item, and the totals (in locals: thousands of TPS, a dozen
    items each)."""
    need = packed = dispatched = received = damaged = returned = 0
    short = over = False
    for (
        line_need,
        line_packed,
        line_dispatched,
        line_received,
        line_damaged,
        line_returned,
    ) in row.counts.values():
        need += line_need
        packed += line_packed
        dispatched += line_dispatched
        received += line_received
        damaged += line_damaged
        returned += line_returned
        if line_packed < line_need:
            short = True
        elif line_packed > line_need:
            over = True
    total = row.total
    total.need += need
    total.packed += packed
    total.dispatched += dispatched
    total.received += received
    total.damaged += damaged
    total.returned += returned
    row.shortage = int(short)
    row.excess = int(over)


# --- export ----------------------------------------------------------------------------------


def export_workbook(recon: Reconciliation, *, level: int | None = None) -> bytes:
    """The reconciliation at ``level`` (by default the children of its region) as a workbook:
    one sheet of totals per row with its flags, one of the figures per row and item."""
    rows = recon.rollup(level if level is not None else recon.child_level)
    book = ExcelWriter()
    figure_labels = [
        _("Need"),
        _("Packed"),
        _("Dispatched"),
        _("Received"),
        _("Damaged"),
        _("Returned"),
    ]
    totals = book.sheet(
        _("Reconciliation"),
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
    per_item = book.sheet(_("Per item"), [_("Code"), _("Name"), _("Item"), *figure_labels])
    for row in rows:
        for item in recon.items:
            counts = row.counts.get(item.pk)
            if counts is not None:
                per_item.append([row.code, row.name, item.name, *counts])
    return book.to_bytes()


@dataclass(frozen=True)
class ArrivalLoss:
    """What arrived short or damaged at a warehouse or store (a vendor's delivery or a BAST's
    loose items), per site and item: packed items' damage is in their TPS's row instead."""

    site: Any
    item: ItemType
    short: int
    damaged: int
    open: int  # of its discrepancies, how many are still open


def arrival_losses(*, user: Any, election: Election, region: str) -> list[ArrivalLoss]:
    """Short and damaged on arrival under ``region``, in the user's scope (two queries)."""
    found = (
        Discrepancy.objects.for_user(user, Action.VIEW)
        .filter(subtree_q("site__region__code", [region]) if region else Q())
        .filter(
            package__isnull=True,
            item__election=election,
            kind__in=(DiscrepancyKind.SHORTFALL, DiscrepancyKind.DAMAGED),
        )
        .values_list("site_id", "item_id", "kind", "state", "quantity")
    )
    totals: dict[tuple[Any, int], list[int]] = {}
    for site_id, item_id, kind, state, quantity in found:
        figures = totals.setdefault((site_id, item_id), [0, 0, 0])
        figures[0 if kind == DiscrepancyKind.SHORTFALL else 1] += quantity or 0
        figures[2] += state == DiscrepancyState.OPEN
    if not totals:
        return []
    sites = Site.objects.in_bulk({site_id for site_id, _item in totals})
    items = ItemType.objects.in_bulk({item_id for _site, item_id in totals})
    losses = [
        ArrivalLoss(sites[site_id], items[item_id], short, damaged, still_open)
        for (site_id, item_id), (short, damaged, still_open) in totals.items()
    ]
    return sorted(losses, key=lambda loss: (loss.site.name, loss.item.position, loss.item.code))

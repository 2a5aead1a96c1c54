"""Reads of the gate shared by pages and API: who is inside now, the gate log and its filters,
the Excel export. Each runs a fixed number of queries however many people and events there are."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from siaga.access.choices import GateEventKind
from siaga.access.models import GateEvent, Presence, StandingPass, nik_lookup_hash
from siaga.access.services import local_time, needs_two_persons, normalise_plate
from siaga.accounts.nik import validate_nik
from siaga.core.errors import InvalidInput, SiagaError
from siaga.core.excel import ExcelWriter
from siaga.sites.models import Site, Zone


@dataclass
class ZoneGroup:
    zone: Zone | None
    people: list[Presence] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.people)

    @property
    def guarded(self) -> bool:
        """Storage zones need two officers; the board shows whether they are there."""
        return needs_two_persons(self.zone)


@dataclass
class InsideBoard:
    site: Site
    groups: list[ZoneGroup]
    at: dt.datetime

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def overstaying(self) -> int:
        return sum(1 for g in self.groups for p in g.people if is_overstaying(p, self.at))


def is_overstaying(presence: Presence, at: dt.datetime) -> bool:
    return presence.expected_out is not None and presence.expected_out < at


def presences(site: Site) -> QuerySet[Presence]:
    return (
        Presence.objects.filter(site=site)
        .select_related("visitor", "zone", "visit", "standing_pass", "last_event__guard")
        .defer("visitor__photo")
        .order_by("zone__name", "entered_at")
    )


def occupied_zones(site: Site) -> set[uuid.UUID | None]:
    """The zones of ``site`` someone is checked in to now (``None``: the grounds): one query.
    A zone nobody is in is *locked* (a door opening there is an intrusion, siaga.hazards)."""
    return set(Presence.objects.filter(site=site).values_list("zone_id", flat=True).distinct())


def inside_board(site: Site, *, at: dt.datetime | None = None) -> InsideBoard:
    """Everyone inside ``site``, grouped by zone (the grounds first, then every zone of the
    site, empty ones too): two queries."""
    at = at or timezone.now()
    grounds = ZoneGroup(zone=None)
    groups: dict[uuid.UUID | None, ZoneGroup] = {None: grounds}
    for zone in Zone.objects.filter(site=site).order_by("name"):
        groups[zone.pk] = ZoneGroup(zone=zone)
    for presence in presences(site):
        groups.setdefault(presence.zone_id, ZoneGroup(zone=presence.zone)).people.append(presence)
    return InsideBoard(site=site, groups=list(groups.values()), at=at)


# ---------------------------------------------------------------------------------------------
# The gate log


@dataclass
class LogFilters:
    site: uuid.UUID | None = None
    zone: uuid.UUID | None = None
    kind: str = ""
    q: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> LogFilters:
        """Filters from a page's query string; a malformed value is ignored, as a browser's
        stale link should still open the log."""

        def _uuid(name: str) -> uuid.UUID | None:
            try:
                return uuid.UUID(str(query.get(name) or ""))
            except ValueError:
                return None

        def _date(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat(str(query.get(name) or ""))
            except ValueError:
                return None

        kind = str(query.get("kind") or "")
        return cls(
            site=_uuid("site"),
            zone=_uuid("zone"),
            kind=kind if kind in GateEventKind.values else "",
            q=str(query.get("q") or "").strip()[:100],
            since=_date("since"),
            until=_date("until"),
        )

    def apply(self, events: QuerySet[GateEvent]) -> QuerySet[GateEvent]:
        if self.site:
            events = events.filter(site_id=self.site)
        if self.zone:
            # Who entered the zone, or left the site from it.
            events = events.filter(Q(zone_id=self.zone) | Q(from_zone_id=self.zone))
        if self.kind:
            events = events.filter(kind=self.kind)
        if self.q:
            events = events.filter(_person_q(self.q))
        if self.since:
            events = events.filter(at__gte=day_start(self.since))
        if self.until:
            events = events.filter(at__lt=day_start(self.until + dt.timedelta(days=1)))
        return events

    def as_query(self) -> dict[str, str]:
        pairs = {
            "site": self.site,
            "zone": self.zone,
            "kind": self.kind,
            "q": self.q,
            "since": self.since,
            "until": self.until,
        }
        return {k: str(v) for k, v in pairs.items() if v}


def looks_like_nik(text: str) -> bool:
    """Sixteen digits: a search that must travel in a POST body, never in a URL."""
    compact = text.strip()
    return compact.isdigit() and len(compact) == 16


def _person_q(text: str) -> Q:
    """A full NIK finds the person exactly (by its keyed hash: the NIK is stored encrypted);
    anything else searches names, organisations and plates."""
    if looks_like_nik(text):
        try:
            return Q(visitor__person__nik_hash=nik_lookup_hash(validate_nik(text).nik))
        except SiagaError:
            return Q(pk__in=[])
    plate = text.upper()
    with contextlib.suppress(SiagaError):  # not a plate: searched as typed
        plate = normalise_plate(text) or plate
    return (
        Q(visitor__name__icontains=text)
        | Q(visitor__organisation__icontains=text)
        | Q(vehicle_plate__icontains=plate)
    )


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def check_range(since: dt.date | None, until: dt.date | None) -> None:
    if since and until and until < since:
        raise InvalidInput(
            "date_range_invalid",
            _("The end date comes before the start date."),
            detail={"since": since.isoformat(), "until": until.isoformat()},
        )


def log_rows(events: QuerySet[GateEvent]) -> QuerySet[GateEvent]:
    return (
        events.select_related(
            "site", "zone", "from_zone", "visitor", "visit", "standing_pass", "guard"
        )
        .defer("visitor__photo")
        .order_by("-at", "-pk")
    )


# ---------------------------------------------------------------------------------------------
# The export

EXPORT_LIMIT = 100_000
EXPORT_CHUNK = 2_000


def _chunks(events: QuerySet[GateEvent]) -> Iterator[GateEvent]:
    yield from log_rows(events)[:EXPORT_LIMIT].iterator(chunk_size=EXPORT_CHUNK)


def export_workbook(events: QuerySet[GateEvent], *, title: str) -> bytes:
    """The gate log as an Excel workbook (streamed row by row: write-only mode), with the
    local time of each site and the ledger entry that proves each row."""
    book = ExcelWriter()
    headers = [
        _("Time (local)"),
        _("Time zone"),
        _("Site"),
        _("In/out"),
        _("Zone"),
        _("From zone"),
        _("Name"),
        _("NIK"),
        _("Organisation"),
        _("Visit / pass"),
        _("Guard"),
        _("Companions"),
        _("Items"),
        _("Vehicle plate"),
        _("Note"),
        _("Ledger entry"),
    ]
    # The ledger entry is a number to look up, not a count: no thousands separator.
    sheet = book.sheet(title or "Log", headers, identifiers=[len(headers) - 1])
    for event in _chunks(events):
        local = local_time(event.site, event.at)
        sheet.append(
            [
                local.replace(tzinfo=None),
                local.tzname(),
                event.site.name,
                event.get_kind_display(),
                event.zone.name if event.zone else "",
                event.from_zone.name if event.from_zone else "",
                event.visitor.name,
                event.visitor.masked_nik,
                event.visitor.organisation,
                event.badge,
                event.guard.display_name,
                ", ".join(c.get("name", "") for c in event.companions),
                items_in_words(event.items),
                event.vehicle_plate,
                event.note,
                event.ledger_seq,
            ]
        )
    return book.to_bytes()


def items_in_words(items: list[dict[str, Any]]) -> str:
    """Declared items as a reader says them: "2× Tas, 1× Laptop" (the kind's label in the
    active language, or the label the guard typed)."""
    from siaga.access.choices import ItemKind

    def label(item: dict[str, Any]) -> str:
        if item.get("label"):
            return str(item["label"])
        kind = item.get("kind", "")
        return str(ItemKind(kind).label) if kind in ItemKind.values else str(kind)

    return ", ".join(f"{item.get('count', 1)}× {label(item)}" for item in items)


def posted_sites(user: Any) -> list[uuid.UUID]:
    """Where the gate knows a person to be posted, for the place chooser: the sites of their
    valid standing passes, then the sites of their last gate events as a guard (two queries)."""
    if not getattr(user, "is_authenticated", False):
        return []
    passes = StandingPass.objects.filter(
        visitor__user=user, revoked_at__isnull=True, valid_until__gt=timezone.now()
    ).values_list("site_id", flat=True)
    worked = (
        GateEvent.objects.filter(guard=user).order_by("-at").values_list("site_id", flat=True)[:50]
    )
    found: list[uuid.UUID] = []
    for site_id in [*passes[:10], *worked]:
        if site_id not in found:
            found.append(site_id)
    return found[:10]

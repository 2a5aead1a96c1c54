"""Reads shared by the incident pages and the API: filters, statistics and the offline map.
Nothing here writes; every function takes a queryset the caller already scoped to its user."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, F, Max, Min, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.core.validators import since_param
from siaga.incidents.choices import OPEN_STATES, Category, Severity, State
from siaga.incidents.models import Incident
from siaga.incidents.services import open_acknowledgements
from siaga.regions.codes import subtree_q
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

REFERENCE_RE = re.compile(r"^(?:INS-?)?([0-9a-f]{6})$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class IncidentFilters:
    """What a person asked for on the list page; values that make no sense are dropped, so a
    hand-edited address narrows nothing rather than failing."""

    state: str = ""
    category: str = ""
    severity: int | None = None
    site: uuid.UUID | None = None
    q: str = ""
    since: dt.datetime | None = None  # reported at or after

    @classmethod
    def from_query(cls, query: Any) -> IncidentFilters:
        state = query.get("state", "")
        category = query.get("category", "")
        try:
            severity: int | None = int(query.get("severity", ""))
        except ValueError:
            severity = None
        try:
            site: uuid.UUID | None = uuid.UUID(query.get("site", ""))
        except ValueError:
            site = None
        return cls(
            state=state if state == "open" or state in State.values else "",
            category=category if category in Category.values else "",
            severity=severity if severity in Severity.values else None,
            site=site,
            q=query.get("q", "").strip()[:100],
            since=since_param(query.get("since")),
        )

    def apply(self, incidents: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.state == "open":
            incidents = incidents.filter(state__in=OPEN_STATES)
        elif self.state:
            incidents = incidents.filter(state=self.state)
        if self.category:
            incidents = incidents.filter(category=self.category)
        if self.severity is not None:
            incidents = incidents.filter(severity=self.severity)
        if self.site is not None:
            incidents = incidents.filter(site_id=self.site)
        if self.since is not None:
            incidents = incidents.filter(reported_at__gte=self.since)
        if self.q:
            match = Q(description__icontains=self.q) | Q(site__name__icontains=self.q)
            reference = REFERENCE_RE.fullmatch(self.q)
            if reference:
                # The reference is the id's last six hex digits (``Incident.reference``).
                match |= Q(id__iendswith=reference.group(1).lower())
            incidents = incidents.filter(match)
        return incidents


# ---------------------------------------------------------------------------------------------
# Waiting for me


def awaiting_my_acknowledgement(user: User) -> QuerySet[Incident]:
    """``services.open_acknowledgements`` narrowed to where the person may acknowledge:
    Bawaslu is told of serious incidents too, but only to watch."""
    incidents = open_acknowledgements(user)
    roots = scope_roots(user, Action.RESPOND_INCIDENT)
    if roots is not None:
        incidents = incidents.filter(subtree_q("region__code", sorted(roots)))
    return incidents


# ---------------------------------------------------------------------------------------------
# Statistics


def incident_stats(incidents: QuerySet[Incident]) -> dict[str, Any]:
    """Counts per category (with the mean time to acknowledge) and per site (the 50 busiest).
    Four queries whatever the number of incidents."""
    open_q = Q(state__in=OPEN_STATES)
    labels = dict(Category.choices)
    by_category = []
    rows = (
        incidents.values("category")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=open_q),
            ack=Avg(F("acknowledged_at") - F("reported_at")),
        )
        .order_by("category")
    )
    for row in rows:
        ack = row["ack"]
        by_category.append(
            {
                "category": row["category"],
                "label": str(labels.get(row["category"], row["category"])),
                "total": row["total"],
                "open": row["open"],
                "minutes_to_acknowledge": None
                if ack is None
                else round(ack.total_seconds() / 60, 1),
            }
        )
    by_site = [
        {
            "site": str(row["site"]) if row["site"] else None,
            "name": row["site__name"] or str(_("No site")),
            "total": row["total"],
            "open": row["open"],
        }
        for row in incidents.values("site", "site__name")
        .annotate(total=Count("id"), open=Count("id", filter=open_q))
        .order_by("-total", "site__name")[:50]
    ]
    return {
        "total": incidents.count(),
        "open": incidents.filter(open_q).count(),
        "by_category": by_category,
        "by_site": by_site,
    }


# ---------------------------------------------------------------------------------------------
# The offline map: an SVG drawn from coordinates alone (a warehouse has no tile server)

MAP_WIDTH = 1000
MAP_MARKERS = 500  # the most recent incidents drawn; the table below pages through them all
MAP_SITES = 2000  # sites drawn as context dots (a kabupaten has a few hundred)
SEVERITY_COLOURS: dict[int, str] = {
    Severity.CRITICAL: "#dc3545",
    Severity.HIGH: "#fd7e14",
    Severity.MEDIUM: "#ffc107",
    Severity.LOW: "#6c757d",
}


@dataclass
class MapPoint:
    x: float
    y: float
    title: str
    incident_id: uuid.UUID | None = None
    colour: str = ""
    major: bool = False


@dataclass
class IncidentMap:
    width: int
    height: int
    frame: tuple[float, float, float, float]  # x, y, width, height of the sites' box
    sites: list[MapPoint] = field(default_factory=list)
    markers: list[MapPoint] = field(default_factory=list)
    unplaced: int = 0  # incidents with neither coordinates nor a site that has them


@dataclass(frozen=True)
class _Box:
    south: float
    north: float
    west: float
    east: float

    def padded(self, ratio: float = 0.08, least: float = 0.01) -> _Box:
        dlat = max((self.north - self.south) * ratio, least)
        dlon = max((self.east - self.west) * ratio, least)
        return _Box(self.south - dlat, self.north + dlat, self.west - dlon, self.east + dlon)

    def joined(self, lat: float, lon: float) -> _Box:
        return _Box(
            min(self.south, lat), max(self.north, lat), min(self.west, lon), max(self.east, lon)
        )


class _Projection:
    """Equirectangular, scaled by cos(latitude) so a kabupaten keeps its shape; near the
    equator that is all the accuracy a sketch of markers needs."""

    def __init__(self, box: _Box) -> None:
        mid = math.cos(math.radians((box.north + box.south) / 2))
        span_x = (box.east - box.west) * mid
        span_y = box.north - box.south
        # Keep the drawing between a wide strip and a tall column.
        if span_y < span_x * 0.45:
            extra = (span_x * 0.45 - span_y) / 2
            box = _Box(box.south - extra, box.north + extra, box.west, box.east)
            span_y = span_x * 0.45
        elif span_y > span_x * 1.2:
            extra = (span_y / 1.2 - span_x) / 2 / mid
            box = _Box(box.south, box.north, box.west - extra, box.east + extra)
            span_x = span_y / 1.2
        self.box = box
        self.mid = mid
        self.scale = MAP_WIDTH / span_x
        self.height = round(span_y * self.scale)

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x = (lon - self.box.west) * self.mid * self.scale
        y = (self.box.north - lat) * self.scale
        return round(x, 1), round(y, 1)


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def incident_map(incidents: QuerySet[Incident], sites: QuerySet[Site]) -> IncidentMap | None:
    """Markers for the most recent incidents (their own position, else their site's) over the
    box of the sites in scope. Three queries; ``None`` when nothing has coordinates."""
    located = sites.filter(latitude__isnull=False, longitude__isnull=False)
    bounds = located.aggregate(
        south=Min("latitude"), north=Max("latitude"), west=Min("longitude"), east=Max("longitude")
    )
    site_rows = list(
        located.order_by("kind", "pk").values_list("latitude", "longitude", "kind", "name")[
            :MAP_SITES
        ]
    )
    incident_rows = list(
        incidents.order_by("-reported_at").values_list(
            "id",
            "severity",
            "category",
            "latitude",
            "longitude",
            "site__latitude",
            "site__longitude",
        )[:MAP_MARKERS]
    )
    points: list[tuple[float, float, uuid.UUID, int, str]] = []
    unplaced = 0
    for pk, severity, category, lat, lon, site_lat, site_lon in incident_rows:
        if lat is None or lon is None:
            lat, lon = site_lat, site_lon
        if lat is None or lon is None:
            unplaced += 1
            continue
        points.append((float(lat), float(lon), pk, severity, category))
    frame_box: _Box | None = None
    if bounds["south"] is not None:
        frame_box = _Box(
            float(bounds["south"]),
            float(bounds["north"]),
            float(bounds["west"]),
            float(bounds["east"]),
        )
    box = frame_box
    for point_lat, point_lon, *_rest in points:
        box = (
            _Box(point_lat, point_lat, point_lon, point_lon)
            if box is None
            else box.joined(point_lat, point_lon)
        )
    if box is None:
        return None
    project = _Projection(box.padded())
    if frame_box is not None:
        x0, y0 = project(frame_box.north, frame_box.west)
        x1, y1 = project(frame_box.south, frame_box.east)
        frame = (x0, y0, round(x1 - x0, 1), round(y1 - y0, 1))
    else:
        frame = (0.0, 0.0, 0.0, 0.0)
    labels: dict[str, str] = {value: str(label) for value, label in Category.choices}
    drawing = IncidentMap(width=MAP_WIDTH, height=project.height, frame=frame, unplaced=unplaced)
    for site_lat, site_lon, kind, name in site_rows:
        if site_lat is None or site_lon is None:
            continue  # filtered out above; the types do not know
        x, y = project(float(site_lat), float(site_lon))
        drawing.sites.append(
            MapPoint(x, y, title=name, major=kind in (SiteKind.WAREHOUSE, SiteKind.PPK))
        )
    # The worst drawn last, so it lies on top.
    for point_lat, point_lon, pk, severity, category in sorted(points, key=lambda p: -p[3]):
        x, y = project(point_lat, point_lon)
        reference = f"INS-{str(pk)[-6:].upper()}"
        drawing.markers.append(
            MapPoint(
                x,
                y,
                title=f"{reference} · {labels.get(category, category)} · {severity}",
                incident_id=pk,
                colour=SEVERITY_COLOURS.get(severity, "#6c757d"),
                major=severity <= Severity.HIGH,
            )
        )
    return drawing

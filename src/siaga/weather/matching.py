"""Which sites a warning covers: by its polygons where an area has them, else by the regions
its text names.

Polygons are turned into one shapely geometry per area ((lon, lat) order, as shapely's x/y
expect: CAP's lat-first pairs are swapped here, once), repaired when a ring crosses itself,
prepared, and asked about the active sites inside the area's bounding box only — a database
filter first, then one vectorised ``contains_xy`` over the candidates. A site on a polygon's
edge counts as inside."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from siaga.regions.codes import subtree_q
from siaga.sites.models import Site
from siaga.weather.choices import MatchedBy
from siaga.weather.places import Found

KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class SiteMatch:
    site_id: object
    region_id: str
    matched_by: str
    area_position: int | None = None
    region_code: str | None = None


def geometry_of(
    polygons: Sequence[Sequence[Sequence[float]]], circles: Sequence[Sequence[float]] = ()
) -> BaseGeometry | None:
    """One geometry for an area's rings of [lat, lon] and circles of [lat, lon, km]."""
    parts: list[BaseGeometry] = []
    for ring in polygons:
        polygon = Polygon([(lon, lat) for lat, lon in ring])
        parts.append(polygon if polygon.is_valid else shapely.make_valid(polygon))
    for lat, lon, km in circles:
        # Degrees of longitude shrink with latitude; near the equator the error is small.
        stretch = max(math.cos(math.radians(lat)), 0.01)
        circle = Point(lon, lat).buffer(km / KM_PER_DEGREE)
        parts.append(shapely.affinity.scale(circle, xfact=1 / stretch, yfact=1.0))
    if not parts:
        return None
    union = shapely.union_all(parts)
    shapely.prepare(union)
    return union


def sites_in(geometry: BaseGeometry, sites: Iterable[Site] | None = None) -> list[Site]:
    """The active sites with coordinates inside (or on the edge of) ``geometry``."""
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    candidates = (
        list(sites)
        if sites is not None
        else list(
            Site.objects.filter(
                active=True,
                latitude__gte=min_lat,
                latitude__lte=max_lat,
                longitude__gte=min_lon,
                longitude__lte=max_lon,
            ).only("id", "region_id", "latitude", "longitude")
        )
    )
    candidates = [s for s in candidates if s.latitude is not None and s.longitude is not None]
    if not candidates:
        return []
    xs = [float(s.longitude) for s in candidates]  # type: ignore[arg-type]
    ys = [float(s.latitude) for s in candidates]  # type: ignore[arg-type]
    inside = shapely.intersects_xy(geometry, xs, ys)
    return [site for site, hit in zip(candidates, inside, strict=True) if hit]


def sites_named(regions: Iterable[Found]) -> list[tuple[Site, Found]]:
    """The active sites inside each region named (a kecamatan, or a whole kabupaten)."""
    named = {f.code: f for f in regions}
    if not named:
        return []
    rows = Site.objects.filter(subtree_q("region__code", sorted(named)), active=True).only(
        "id", "region_id"
    )
    out = []
    for site in rows:
        code = site.region_id
        # The deepest named region that holds the site.
        holder = max(
            (c for c in named if code == c or code.startswith(c + ".")), key=len, default=None
        )
        if holder is not None:
            out.append((site, named[holder]))
    return out


def match_sites(areas: Sequence[object], named: Iterable[Found]) -> list[SiteMatch]:
    """Every site the warning covers, once: by polygon for an area with geometry, by region
    name for an area without (the names come from the area and the description text)."""
    found: dict[object, SiteMatch] = {}
    named = list(named)
    by_name = False
    for area in areas:
        geometry = geometry_of(area.polygons, area.circles)  # type: ignore[attr-defined]
        if geometry is None:
            by_name = True
            continue
        for site in sites_in(geometry):
            found.setdefault(
                site.pk,
                SiteMatch(
                    site.pk,
                    site.region_id,
                    MatchedBy.POLYGON,
                    area.position,  # type: ignore[attr-defined]
                ),
            )
    if by_name or not areas:
        for site, region in sites_named(named):
            found.setdefault(
                site.pk,
                SiteMatch(site.pk, site.region_id, MatchedBy.REGION, region_code=region.code),
            )
    return list(found.values())

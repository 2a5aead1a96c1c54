"""A warning's areas as an inline SVG outline (a map comes with a later issue): the polygons
and the sites they cover, in a plain equirectangular frame around them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH = 480.0
MARGIN = 12.0
MAX_RINGS = 400  # more than BMKG has written in one alert; beyond it the outline is cut


@dataclass(frozen=True)
class Outline:
    width: float
    height: float
    rings: list[str]  # SVG "points" attributes
    circles: list[tuple[float, float, float]]
    sites: list[tuple[float, float, str]]
    cut: bool


def outline(areas: Iterable[Any], sites: Iterable[Any] = ()) -> Outline | None:
    """``areas`` hold ``polygons`` (rings of [lat, lon]) and ``circles`` ([lat, lon, km]);
    ``sites`` have ``latitude``, ``longitude`` and ``name``."""
    rings: list[Sequence[Sequence[float]]] = []
    circles: list[Sequence[float]] = []
    for area in areas:
        rings.extend(area.polygons)
        circles.extend(area.circles)
    cut = len(rings) > MAX_RINGS
    rings = rings[:MAX_RINGS]
    placed = [
        (float(s.latitude), float(s.longitude), s.name)
        for s in sites
        if isinstance(s.latitude, Decimal | float) and isinstance(s.longitude, Decimal | float)
    ]
    lats = [p[0] for r in rings for p in r] + [c[0] for c in circles]
    lons = [p[1] for r in rings for p in r] + [c[1] for c in circles]
    if not lats:
        return None
    lats += [p[0] for p in placed]
    lons += [p[1] for p in placed]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    span = max(east - west, north - south, 1e-6)
    scale = (WIDTH - 2 * MARGIN) / span
    height = (north - south) * scale + 2 * MARGIN

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return round(MARGIN + (lon - west) * scale, 1), round(MARGIN + (north - lat) * scale, 1)

    return Outline(
        width=WIDTH,
        height=round(max(height, 2 * MARGIN + 20), 1),
        rings=[" ".join("{},{}".format(*xy(lat, lon)) for lat, lon in ring) for ring in rings],
        circles=[(*xy(lat, lon), round(km / 111.32 * scale, 1)) for lat, lon, km in circles],
        sites=[(*xy(lat, lon), name) for lat, lon, name in placed],
        cut=cut,
    )

"""The hazards panel of the site safety page (which siaga.safety builds): current readings per
zone with a sparkline each, the site's active hazard alarms, and its silent sensors.

``context(site, user)`` returns the panel's template context, or ``None`` where the site has no
sensors or the user may not see it; the page includes ``hazards/_safety_panel.html`` with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.safestring import SafeString

from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.hazards import chart, selectors
from siaga.hazards.models import Sensor
from siaga.sites.models import Site, Zone


@dataclass
class Row:
    sensor: Sensor
    sparkline: SafeString


@dataclass
class ZoneRows:
    zone: Zone | None
    rows: list[Row] = field(default_factory=list)


def context(site: Site, user: Any) -> dict[str, Any] | None:
    """Five queries however many sensors the site has."""
    if not user_can(user, Action.VIEW, site.region_id):
        return None
    sensors = list(selectors.site_sensors(site))
    if not sensors:
        return None
    lines = selectors.sparklines([s for s in sensors if not s.is_boolean])
    zones: dict[Any, ZoneRows] = {}
    for sensor in sensors:
        group = zones.setdefault(sensor.zone_id, ZoneRows(sensor.zone))
        points = lines.get(sensor.pk, [])
        group.rows.append(Row(sensor, chart.sparkline(points) if points else SafeString("")))
    return {
        "hazards_site": site,
        "hazards_zones": sorted(
            zones.values(), key=lambda z: (z.zone is not None, z.zone.name if z.zone else "")
        ),
        "hazards_alarms": list(selectors.active_hazard_alarms(site)[:20]),
        "hazards_silent": [s for s in sensors if s.status in ("silent", "unavailable")],
    }

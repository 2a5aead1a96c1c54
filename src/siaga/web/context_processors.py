"""The navigation: every app of SIAGA, with the ones still to come shown as such."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# (url name, or None while the app is still to come; label)
NAVIGATION: list[tuple[str | None, Any]] = [
    ("home", _("Dashboard")),
    ("sites:list", _("Sites")),
    ("ledger:index", _("Ledger")),
    (None, _("Logistics")),
    (None, _("Gate & visitors")),
    (None, _("Incidents")),
    (None, _("Hazards")),
    (None, _("CCTV")),
    (None, _("Inspections")),
    (None, _("TPS & APK")),
    (None, _("Stages")),
    ("regions:browse", _("Regions")),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    current = getattr(getattr(request, "resolver_match", None), "view_name", "")
    items = []
    coming = []
    for name, label in NAVIGATION:
        if name is None:
            coming.append(label)
            continue
        namespace = name.split(":")[0] + ":" if ":" in name else None
        active = current == name or (namespace is not None and current.startswith(namespace))
        items.append({"url": reverse(name), "label": label, "active": active})
    return {"nav_items": items, "nav_coming": coming}

"""The navigation: every app of SIAGA, with the ones still to come shown as such."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from siaga.incidents.selectors import awaiting_my_acknowledgement

# (url name, or None while the app is still to come; label)
NAVIGATION: list[tuple[str | None, Any]] = [
    ("home", _("Dashboard")),
    ("sites:list", _("Sites")),
    ("ledger:index", _("Ledger")),
    ("logistics:reconciliation", _("Logistics")),
    ("access:gate", _("Gate & visitors")),
    ("incidents:list", _("Incidents")),
    ("alarms:console", _("Alarms")),
    ("safety:index", _("Hazards & safety")),
    ("weather:warnings", _("Weather warnings")),
    (None, _("CCTV")),
    (None, _("Inspections")),
    (None, _("TPS & APK")),
    (None, _("Stages")),
    ("regions:browse", _("Regions")),
]


def _waiting_for_me(request: HttpRequest) -> Callable[[], int]:
    """Incidents waiting for this person's acknowledgement: counted only when the menu is
    drawn (the template calls it once), so htmx fragments pay nothing."""
    return lambda: awaiting_my_acknowledgement(request.user).count()  # type: ignore[arg-type]


# Counts shown beside a menu entry.
BADGES: dict[str, Callable[[HttpRequest], Callable[[], int]]] = {
    "incidents:list": _waiting_for_me,
}


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
        item: dict[str, Any] = {"url": reverse(name), "label": label, "active": active}
        if name in BADGES and getattr(request, "user", None) and request.user.is_authenticated:
            item["badge"] = BADGES[name](request)
        items.append(item)
    return {"nav_items": items, "nav_coming": coming}

"""The site safety page is made of panels that apps register, so that this app imports none
of them: the hazards app adds its readings and sensor alarms, the weather app the warnings
in force, this app the site's active alarms and its equipment.

An app registers from its ``AppConfig.ready``::

    from siaga.safety import panels
    panels.register(panels.Panel("readings", panels.ORDER_READINGS,
                                 "hazards/_panel.html", readings_panel))

``context(site, user)`` returns the template's context, or ``None`` to hide the panel (no
sensors at this site, say). The page renders each panel with that context plus ``site``,
``panel``, ``user``, ``request`` and ``csrf_token`` (no context processors); a panel whose
context or template fails is shown as "could not be shown" and logged, and the others still
show. With ``refresh_seconds`` the page
asks ``safety:panel`` for that panel alone every so many seconds (htmx).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger("siaga.safety")

# The page's order, top to bottom: alarms of every source, the sensors' readings and alarms,
# the weather warnings in force, then the equipment.
ORDER_ALARMS = 10
ORDER_READINGS = 20
ORDER_WARNINGS = 30
ORDER_EQUIPMENT = 40

PanelContext = Callable[[Any, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    name: str
    order: int
    template: str
    context: PanelContext
    refresh_seconds: int = 0


PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> None:
    """Add (or replace, by name) a panel of the site safety page."""
    if not panel.name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"a panel's name is a slug: {panel.name!r}")
    PANELS[panel.name] = panel


def unregister(name: str) -> None:
    PANELS.pop(name, None)


def registered() -> list[Panel]:
    return sorted(PANELS.values(), key=lambda p: (p.order, p.name))


@dataclass(frozen=True)
class Shown:
    panel: Panel
    html: SafeString
    failed: bool = False


def render_panel(panel: Panel, site: Any, request: HttpRequest) -> Shown | None:
    """The panel's HTML for this site and user; ``None`` when the panel hides itself."""
    try:
        context = panel.context(site, request.user)
        if context is None:
            return None
        # Without ``request=``: the context processors (the menu, the inbox badge) would run
        # once per panel. What a panel's template may need of the request is given instead.
        html = render_to_string(
            panel.template,
            {
                **context,
                "site": site,
                "panel": panel,
                "user": request.user,
                "request": request,
                "csrf_token": get_token(request),
            },
        )
    except Exception:  # one app's panel must not take the whole page down
        logger.exception("the %s panel of the safety page failed for site %s", panel.name, site.pk)
        return Shown(panel=panel, html=mark_safe(""), failed=True)
    return Shown(panel=panel, html=mark_safe(html))  # noqa: S308 (rendered by a template)


def render_all(site: Any, request: HttpRequest) -> list[Shown]:
    shown = [render_panel(panel, site, request) for panel in registered()]
    return [s for s in shown if s is not None]


def register_own_panels() -> None:
    from siaga.safety import views

    register(
        Panel(
            "alarms",
            ORDER_ALARMS,
            "safety/_alarms_panel.html",
            views.alarms_panel,
            refresh_seconds=30,
        )
    )
    register(
        Panel("equipment", ORDER_EQUIPMENT, "safety/_equipment_panel.html", views.equipment_panel)
    )

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Periodic


class WeatherConfig(AppConfig):
    name = "siaga.weather"
    label = "weather"
    verbose_name = _("Weather warnings")
    # BMKG's feeds in SIAGA_WEATHER_FEEDS, read every SIAGA_WEATHER_FETCH_SECONDS; the same
    # round brings into force the warnings whose effective time has come.
    periodic_jobs = [
        Periodic("weather.poll", "siaga.weather.services.poll", "WEATHER_FETCH_SECONDS", batch=True)
    ]

    def ready(self) -> None:
        # The warnings in force on a site, on its safety page (siaga.safety).
        from siaga.safety import panels

        panels.register(
            panels.Panel(
                "weather", panels.ORDER_WARNINGS, "weather/_safety_panel.html", _safety_panel
            )
        )


def _safety_panel(site: Any, user: Any) -> dict[str, Any] | None:
    from siaga.weather import panel

    found = panel.context(site, user)
    return None if found is None else {"weather": found}

from __future__ import annotations

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

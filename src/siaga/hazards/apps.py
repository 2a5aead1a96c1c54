from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Loop, Periodic


class HazardsConfig(AppConfig):
    name = "siaga.hazards"
    label = "hazards"
    verbose_name = _("Hazards")
    periodic_jobs = [
        # Sensors gone silent, debounced contacts that have held.
        Periodic("hazards.watch", "siaga.hazards.services.watch", "HAZARDS_WATCH_SECONDS"),
        # Hourly aggregates, then the purge of raw readings past their retention.
        Periodic(
            "hazards.rollup", "siaga.hazards.services.rollup", "HAZARDS_ROLLUP_SECONDS", batch=True
        ),
    ]
    # The MQTT subscriber, where SIAGA_MQTT_URL names a broker (else it waits, doing nothing).
    worker_loops = [Loop("hazards.mqtt", "siaga.hazards.mqtt.run_until")]

    def ready(self) -> None:
        from siaga.alarms.choices import register_kind_labels
        from siaga.hazards.choices import AlarmKind

        register_kind_labels("hazards", {kind.value: kind.label for kind in AlarmKind})

        # Readings per zone, the sensors' alarms and silent sensors on the site safety page,
        # refreshed every half minute.
        from siaga.hazards import panel
        from siaga.safety import panels

        panels.register(
            panels.Panel(
                "readings",
                panels.ORDER_READINGS,
                "hazards/_safety_panel.html",
                panel.context,
                refresh_seconds=30,
            )
        )

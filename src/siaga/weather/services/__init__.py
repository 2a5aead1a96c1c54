"""Use cases of weather warnings; callers write ``from siaga.weather import services``.

- ``ingest``: one CAP document recorded (``ingest_document``, ``record_alert``);
- ``fetching``: a source read (``ingest_source``), bad inputs counted on its feed, and the
  worker's ``poll`` over SIAGA_WEATHER_FEEDS;
- ``notices``: the warning coming into force at its sites (``activate``, ``activate_due``),
  who is told, and the ``warning_in_force`` hook.
"""

from __future__ import annotations

from siaga.weather.services.fetching import Report, ingest_source, load, poll, record_problem
from siaga.weather.services.ingest import Outcome, ingest_document, record_alert
from siaga.weather.services.notices import activate, activate_due, recipients

__all__ = [
    "Outcome",
    "Report",
    "activate",
    "activate_due",
    "ingest_document",
    "ingest_source",
    "load",
    "poll",
    "recipients",
    "record_alert",
    "record_problem",
]

"""The demo's weather: BMKG warns of heavy rain over OKU Timur, and the KPU warehouse in
Martapura is inside the warning's polygon — so the demo shows a warning in force, its
preventive steps, and the guards and operators told.

The document is ``demo_data/okut-hujan-lebat.xml``, a CAP 1.2 alert written in BMKG's shape;
``seed`` moves its times to now (keeping their +07:00 offset) and gives it an identifier of
today, then ingests it through the one ingestion service."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from importlib import resources

from django.utils import timezone

from siaga.weather.cap import parse_time
from siaga.weather.models import WeatherWarning
from siaga.weather.services import Outcome, ingest_document

DEMO_DOCUMENT = "okut-hujan-lebat.xml"
DEMO_SOURCE = "siaga.weather/demo_data/okut-hujan-lebat.xml"
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z)")
SENT = re.compile(r"<sent>([^<]+)</sent>")
IDENTIFIER = re.compile(r"<identifier>([^<]+)</identifier>")


def retimed(document: bytes, *, sent: datetime, suffix: str = "") -> bytes:
    """The document with every CAP time moved by the same amount, so that its ``<sent>`` is
    ``sent``; each time keeps its own offset. ``suffix`` is added to the identifier (a new
    alert, not a repeat of the one written)."""
    text = document.decode()
    found = SENT.search(text)
    if found is None:
        raise ValueError("the document has no <sent>")
    shift = sent - parse_time(found.group(1), "sent").at

    def move(match: re.Match[str]) -> str:
        stamp = parse_time(match.group(0), "time")
        return (stamp.local + shift).isoformat()

    text = STAMP.sub(move, text)
    if suffix:
        text = IDENTIFIER.sub(lambda m: f"<identifier>{m.group(1)}.{suffix}</identifier>", text)
    return text.encode()


def document() -> bytes:
    return resources.files("siaga.weather").joinpath("demo_data", DEMO_DOCUMENT).read_bytes()


def seed(now: datetime | None = None) -> Outcome | None:
    """Ingest the demo warning, issued half an hour ago, unless one is in force already
    (running the demo again changes nothing). Returns what the ingestion did."""
    now = now or timezone.now()
    in_force = WeatherWarning.objects.in_force(now).filter(source=DEMO_SOURCE)
    if in_force.exists():
        return None
    sent = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    data = retimed(document(), sent=sent, suffix=f"DEMO{sent:%Y%m%d%H%M}")
    return ingest_document(data, source=DEMO_SOURCE, hint="Provinsi Sumatera Selatan", now=now)

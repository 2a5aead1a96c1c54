"""The hazards app's use cases: sensors and device tokens, the one ingestion service, the
periodic watch (silence, debounce) and the time series' roll-up and purge."""

from __future__ import annotations

from siaga.hazards.services.ingestion import Message, Result, ingest
from siaga.hazards.services.sensors import (
    create_sensor,
    device_token_for,
    issue_device_token,
    revoke_device_token,
)
from siaga.hazards.services.watch import rollup, watch

__all__ = [
    "Message",
    "Result",
    "create_sensor",
    "device_token_for",
    "ingest",
    "issue_device_token",
    "revoke_device_token",
    "rollup",
    "watch",
]

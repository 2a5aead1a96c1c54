from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class AlarmSeverity(models.TextChoices):
    """As ThingsBoard names them, worst first."""

    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")
    WARNING = "warning", _("Warning")


SEVERITY_RANK = {
    AlarmSeverity.CRITICAL: 1,
    AlarmSeverity.MAJOR: 2,
    AlarmSeverity.MINOR: 3,
    AlarmSeverity.WARNING: 4,
}


class AlarmStatus(models.TextChoices):
    ACTIVE_UNACK = "active_unack", _("Active, unacknowledged")
    ACTIVE_ACK = "active_ack", _("Active, acknowledged")
    CLEARED_UNACK = "cleared_unack", _("Cleared, unacknowledged")
    CLEARED_ACK = "cleared_ack", _("Cleared, acknowledged")


# What each module's alarm kinds are called on pages; a kind not listed shows "source/kind".
# Apps add theirs with register_kind_labels.
KIND_LABELS: dict[tuple[str, str], Any] = {
    ("access", "overstay"): _("Guest overstaying"),
    ("access", "unguarded_zone"): _("Zone without the two-person rule"),
    ("access", "watchlist"): _("Watchlisted person at the gate"),
    ("logistics", "custody_discrepancy"): _("Custody discrepancy"),
    ("hazards", "water_leak"): _("Water leak"),
    ("hazards", "smoke"): _("Smoke"),
    ("hazards", "humidity_high"): _("Humidity too high"),
    ("cctv", "motion_armed_zone"): _("Motion in an armed zone"),
    ("cctv", "camera_offline"): _("Camera offline"),
    ("ledger", "rollback"): _("Ledger put back to an older copy"),
}


def register_kind_labels(source: str, labels: dict[str, Any]) -> None:
    """An app names its own alarm kinds (from its ``AppConfig.ready``), so this list never
    has to import it."""
    for kind, label in labels.items():
        KIND_LABELS[(source, kind)] = label


def kind_label(source: str, kind: str) -> str:
    label = KIND_LABELS.get((source, kind))
    return str(label) if label is not None else f"{source}/{kind}"

from __future__ import annotations

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

"""The values CAP 1.2 allows (kept as CAP spells them), and SIAGA's own: what a warning is
about, how a site was matched, and a feed's freshness."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CapStatus(models.TextChoices):
    ACTUAL = "Actual", _("Actual")
    EXERCISE = "Exercise", _("Exercise")
    SYSTEM = "System", _("System")
    TEST = "Test", _("Test")
    DRAFT = "Draft", _("Draft")


class MsgType(models.TextChoices):
    ALERT = "Alert", _("Alert")
    UPDATE = "Update", _("Update")
    CANCEL = "Cancel", _("Cancel")
    ACK = "Ack", _("Acknowledgement")
    ERROR = "Error", _("Error")


class CapScope(models.TextChoices):
    PUBLIC = "Public", _("Public")
    RESTRICTED = "Restricted", _("Restricted")
    PRIVATE = "Private", _("Private")


class Severity(models.TextChoices):
    EXTREME = "Extreme", _("Extreme")
    SEVERE = "Severe", _("Severe")
    MODERATE = "Moderate", _("Moderate")
    MINOR = "Minor", _("Minor")
    UNKNOWN = "Unknown", _("Unknown")


# Higher is worse: an Update re-notifies only when it climbs this ladder.
SEVERITY_RANK = {
    Severity.UNKNOWN: 0,
    Severity.MINOR: 1,
    Severity.MODERATE: 2,
    Severity.SEVERE: 3,
    Severity.EXTREME: 4,
}


class Urgency(models.TextChoices):
    IMMEDIATE = "Immediate", _("Immediate")
    EXPECTED = "Expected", _("Expected")
    FUTURE = "Future", _("Future")
    PAST = "Past", _("Past")
    UNKNOWN = "Unknown", _("Unknown")


class Certainty(models.TextChoices):
    OBSERVED = "Observed", _("Observed")
    LIKELY = "Likely", _("Likely")
    POSSIBLE = "Possible", _("Possible")
    UNLIKELY = "Unlikely", _("Unlikely")
    UNKNOWN = "Unknown", _("Unknown")


class Hazard(models.TextChoices):
    """What a warning is about, read from its event ("Hujan Lebat disertai Petir")."""

    HEAVY_RAIN = "heavy_rain", _("Heavy rain")
    STRONG_WIND = "strong_wind", _("Strong wind")
    THUNDERSTORM = "thunderstorm", _("Thunderstorm and lightning")
    HAIL = "hail", _("Hail")
    FLOOD = "flood", _("Flood")
    HIGH_WAVES = "high_waves", _("High waves")
    OTHER = "other", _("Other weather")


class WarningState(models.TextChoices):
    CURRENT = "current", _("current")
    SUPERSEDED = "superseded", _("replaced by an update")
    CANCELLED = "cancelled", _("cancelled")


class MatchedBy(models.TextChoices):
    POLYGON = "polygon", _("inside a warning polygon")
    REGION = "region", _("region named in the warning")


class FoundIn(models.TextChoices):
    AREA = "area", _("area description")
    TEXT = "text", _("description text")
    SITE = "site", _("a matched site's region")
    REFERENCE = "reference", _("the warning it updates or cancels")


class Freshness(models.TextChoices):
    FRESH = "fresh", _("fresh")
    STALE = "stale", _("stale")
    NEVER = "never", _("never fetched successfully")

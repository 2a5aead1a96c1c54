from __future__ import annotations

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    FIRE = "kebakaran", _("Fire (kebakaran)")
    WATER = "banjir", _("Flood or water leak (banjir / kebocoran air)")
    THEFT = "pencurian", _("Theft (pencurian)")
    INTRUSION = "penyusupan", _("Intrusion or unauthorised access (penyusupan)")
    DAMAGE = "kerusakan_logistik", _("Damaged logistics (kerusakan logistik)")
    MISSING = "logistik_hilang", _("Missing or swapped logistics (logistik hilang / tertukar)")
    PUBLIC_ORDER = "kamtibmas", _("Public order disturbance (gangguan kamtibmas)")
    POWER_CCTV = "cctv_listrik", _("CCTV or power down (CCTV atau listrik mati)")
    OTHER = "lainnya", _("Other (lainnya)")


class Severity(models.IntegerChoices):
    CRITICAL = 1, _("1 — Critical")
    HIGH = 2, _("2 — High")
    MEDIUM = 3, _("3 — Medium")
    LOW = 4, _("4 — Low")


# Written definitions, shown beside the choice on the report page and in the docs.
StrOrPromise = str | Promise

SEVERITY_DEFINITIONS: dict[int, StrOrPromise] = {
    Severity.CRITICAL: _(
        "People or logistics in immediate danger, or logistics lost: fire, flood inside a "
        "storage hall, break-in, missing ballots. Act now."
    ),
    Severity.HIGH: _(
        "Logistics at risk within hours, or a security rule broken: a leak near pallets, a "
        "broken seal, someone inside without authorisation."
    ),
    Severity.MEDIUM: _(
        "Protection weakened but no logistics at risk yet: CCTV or power down, a crowd at the "
        "gate, damaged packaging."
    ),
    Severity.LOW: _("Worth recording, no immediate risk: a minor finding to follow up."),
}


class State(models.TextChoices):
    REPORTED = "reported", _("Reported")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESPONDING = "responding", _("Responding")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_STATES = (State.REPORTED, State.ACKNOWLEDGED, State.RESPONDING)


class EventKind(models.TextChoices):
    REPORTED = "reported", _("reported")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESPONDING = "responding", _("responding")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")
    REOPENED = "reopened", _("reopened")
    ASSIGNED = "assigned", _("assigned")
    COMMENT = "comment", _("comment")
    PHOTO = "photo", _("photo added")
    ESCALATED = "escalated", _("escalated")
    REMINDED = "reminded", _("reminder sent")
    ALARM = "alarm", _("alarm linked")


class LinkType(models.TextChoices):
    ALARM = "alarm", _("alarm")
    VISIT = "visit", _("visit")
    PACKAGE = "package", _("package")
    SEAL = "seal", _("seal")
    READING = "reading", _("sensor reading")
    SNAPSHOT = "snapshot", _("camera snapshot")


class Source(models.TextChoices):
    PERSON = "person", _("reported by a person")
    ALARM = "alarm", _("opened by an alarm")


class TierLevel(models.TextChoices):
    KABUPATEN = "kabupaten", _("the incident's kabupaten/kota")
    PROVINSI = "provinsi", _("the incident's province")
    NATIONAL = "national", _("national")

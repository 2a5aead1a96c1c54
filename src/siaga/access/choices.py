from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class VisitState(models.TextChoices):
    REQUESTED = "requested", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    DENIED = "denied", _("Denied")
    CHECKED_IN = "checked_in", _("Inside")
    CHECKED_OUT = "checked_out", _("Left")
    EXPIRED = "expired", _("Expired")


# A visit in these states may still come through the gate (or is inside).
PENDING_STATES = (VisitState.REQUESTED, VisitState.APPROVED)


class Purpose(models.TextChoices):
    DELIVERY = "delivery", _("Delivery or pick-up of logistics")
    SORTING = "sorting", _("Sorting and folding (sortir-lipat)")
    OVERSIGHT = "oversight", _("Oversight or inspection")
    MEETING = "meeting", _("Meeting")
    MAINTENANCE = "maintenance", _("Maintenance or repair")
    MEDIA = "media", _("Press or media")
    OTHER = "other", _("Other")


class PassKind(models.TextChoices):
    STAFF = "staff", _("Staff")
    GUARD = "guard", _("Guard")
    WORKER = "worker", _("Hired worker (day pass)")


class GateEventKind(models.TextChoices):
    CHECK_IN = "check_in", _("In")
    CHECK_OUT = "check_out", _("Out")


class Officer(models.TextChoices):
    """Which body a person at the gate serves, for the two-person rule."""

    KPU = "kpu", _("KPU")
    POLRI = "polri", _("Polri")
    BAWASLU = "bawaslu", _("Bawaslu")


class ItemKind(models.TextChoices):
    BAG = "bag", _("Bag")
    PHONE = "phone", _("Phone")
    LAPTOP = "laptop", _("Laptop")
    CAMERA = "camera", _("Camera")
    TOOL = "tool", _("Tools")
    DOCUMENT = "document", _("Documents")
    OTHER = "other", _("Other")

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SiteKind(models.TextChoices):
    WAREHOUSE = "warehouse", _("Warehouse (gudang)")
    PPK = "ppk", _("PPK store")
    PPS = "pps", _("PPS store")
    TPS = "tps", _("TPS")
    OFFICE = "office", _("Office")


class ZoneKind(models.TextChoices):
    GATE = "gate", _("Gate")
    STORAGE = "storage", _("Storage hall")
    OFFICE = "office", _("Office")
    YARD = "yard", _("Yard")
    LOADING = "loading", _("Loading bay")
    GUARD_POST = "guard_post", _("Guard post")
    OTHER = "other", _("Other")

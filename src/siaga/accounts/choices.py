from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AgencyKind(models.TextChoices):
    KPU = "kpu", "KPU"
    BAWASLU = "bawaslu", "Bawaslu"
    POLRI = "polri", "Polri"
    LINMAS = "linmas", "Linmas"
    PEMDA = "pemda", "Pemda"


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    KPU_OPERATOR = "kpu_operator", _("KPU logistics operator")
    KPU_COMMISSIONER = "kpu_commissioner", _("KPU commissioner")
    POLICE_COMMANDER = "police_commander", _("Police commander")
    GUARD = "guard", _("Guard on duty")
    BAWASLU_SUPERVISOR = "bawaslu_supervisor", _("Bawaslu supervisor")
    VIEWER = "viewer", _("Viewer")

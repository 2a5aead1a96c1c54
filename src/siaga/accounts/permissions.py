"""The one permission table: which role may do which action, and in which agency.

Every scoped query goes through ``for_user(user, action)`` (see ``scoping.py``), which reads
this table. Change a right here and every page, API route and service follows.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.accounts.choices import AgencyKind, Role


class Action(models.TextChoices):
    VIEW = "view", _("see records")
    MANAGE_MASTER_DATA = "manage_master_data", _("manage sites, zones and units")
    MANAGE_ACCOUNTS = "manage_accounts", _("manage accounts and memberships")
    RECORD_LOGISTICS = "record_logistics", _("record logistics and custody")
    SIGN_HANDOVER = "sign_handover", _("sign handovers (BAST)")
    OPERATE_GATE = "operate_gate", _("register and check visitors at the gate")
    APPROVE_ACCESS = "approve_access", _("approve warehouse access")
    REPORT_INCIDENT = "report_incident", _("report incidents")
    RESPOND_INCIDENT = "respond_incident", _("acknowledge and handle alarms and incidents")
    FILE_FINDING = "file_finding", _("file oversight findings")
    MANAGE_SAFETY_EQUIPMENT = "manage_safety_equipment", _("record and change safety equipment")
    SERVICE_SAFETY_EQUIPMENT = "service_safety_equipment", _("record a service of safety equipment")


_ALL_BUT_FINDINGS = frozenset(a for a in Action if a != Action.FILE_FINDING)

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: _ALL_BUT_FINDINGS,
    Role.KPU_OPERATOR: frozenset(
        {
            Action.VIEW,
            Action.RECORD_LOGISTICS,
            Action.SIGN_HANDOVER,
            Action.OPERATE_GATE,
            Action.REPORT_INCIDENT,
            Action.RESPOND_INCIDENT,
            # The KPU owns the warehouse and its extinguishers, pumps and lightning rods.
            Action.MANAGE_SAFETY_EQUIPMENT,
            Action.SERVICE_SAFETY_EQUIPMENT,
        }
    ),
    Role.KPU_COMMISSIONER: frozenset(
        {
            Action.VIEW,
            Action.SIGN_HANDOVER,
            Action.APPROVE_ACCESS,
            Action.REPORT_INCIDENT,
            Action.RESPOND_INCIDENT,
        }
    ),
    Role.POLICE_COMMANDER: frozenset(
        {
            Action.VIEW,
            Action.SIGN_HANDOVER,
            Action.APPROVE_ACCESS,
            Action.REPORT_INCIDENT,
            Action.RESPOND_INCIDENT,
        }
    ),
    Role.GUARD: frozenset(
        {
            Action.VIEW,
            Action.OPERATE_GATE,
            Action.REPORT_INCIDENT,
            Action.RESPOND_INCIDENT,
            # The guard on patrol checks the extinguishers' gauges and records it.
            Action.SERVICE_SAFETY_EQUIPMENT,
        }
    ),
    # Bawaslu reads everything in scope and changes nothing but its own findings.
    Role.BAWASLU_SUPERVISOR: frozenset({Action.VIEW, Action.FILE_FINDING}),
    Role.VIEWER: frozenset({Action.VIEW}),
}

# Which agency may hold which role. Admin and viewer exist in every agency.
ROLE_AGENCIES: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(AgencyKind.values),
    Role.VIEWER: frozenset(AgencyKind.values),
    Role.KPU_OPERATOR: frozenset({AgencyKind.KPU}),
    Role.KPU_COMMISSIONER: frozenset({AgencyKind.KPU}),
    Role.POLICE_COMMANDER: frozenset({AgencyKind.POLRI}),
    Role.GUARD: frozenset({AgencyKind.POLRI, AgencyKind.LINMAS}),
    Role.BAWASLU_SUPERVISOR: frozenset({AgencyKind.BAWASLU}),
}


def role_allows(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


def role_fits_agency(role: str, agency_kind: str) -> bool:
    return agency_kind in ROLE_AGENCIES.get(role, frozenset())

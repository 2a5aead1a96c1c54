"""Escalation policies are data, edited here by national administrators (each save is a
ledger entry). Incidents themselves change only through their services: read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from siaga.accounts.admin import ScopedAdminMixin
from siaga.incidents.models import EscalationPolicy, EscalationTier, Incident
from siaga.ledger.admin import LedgeredAdminMixin, ReadOnlyAdmin


class SuperuserOnly:
    """National rules: only a superuser may change them."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class TierInline(SuperuserOnly, admin.TabularInline[EscalationTier, EscalationPolicy]):
    model = EscalationTier
    extra = 0
    fields = ["number", "level", "targets", "ack_minutes", "remind_minutes"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(SuperuserOnly, LedgeredAdminMixin, admin.ModelAdmin[EscalationPolicy]):
    list_display = ["name", "category", "max_severity", "priority", "active"]
    list_filter = ["active", "category"]
    inlines = [TierInline]


@admin.register(Incident)
class IncidentAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["reference", "category", "severity", "state", "site", "region", "reported_at"]
    list_filter = ["state", "category", "severity"]
    search_fields = ["description", "site__name", "region__code"]
    show_full_result_count = False

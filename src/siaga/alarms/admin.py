"""Alarm policies are data (which alarms open incidents, how often they remind); alarms
themselves change only through their services."""

from __future__ import annotations

from django.contrib import admin

from siaga.accounts.admin import ScopedAdminMixin
from siaga.alarms.models import Alarm, AlarmPolicy
from siaga.incidents.admin import SuperuserOnly
from siaga.ledger.admin import LedgeredAdminMixin, ReadOnlyAdmin


@admin.register(AlarmPolicy)
class AlarmPolicyAdmin(SuperuserOnly, LedgeredAdminMixin, admin.ModelAdmin[AlarmPolicy]):
    list_display = [
        "source",
        "kind",
        "min_severity",
        "opens_incident",
        "incident_category",
        "incident_severity",
        "remind_minutes",
    ]


@admin.register(Alarm)
class AlarmAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["message", "severity", "site", "active", "acknowledged_at", "last_raised_at"]
    list_filter = ["active", "severity", "source"]
    search_fields = ["message", "key", "site__name"]
    show_full_result_count = False

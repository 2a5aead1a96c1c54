"""Admin for sensors and their rules: the rule editor. Every save and delete leaves a ledger
entry in the admin's own transaction (siaga.ledger.admin.LedgeredAdminMixin), like a service.
Readings, rule states and counters are the ingestion's: shown, never edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from siaga.hazards.models import DeviceToken, RejectCounter, Rule, Sensor
from siaga.hazards.services.sensors import add_default_rules
from siaga.ledger.admin import LedgeredAdminMixin, ReadOnlyAdmin

RULE_FIELDS: list[Any] = [
    "alarm_kind",
    "kind",
    "severity",
    "enabled",
    "direction",
    "threshold",
    "clear_at",
    "duration_seconds",
    "rise",
    "window_seconds",
    "trigger_value",
    "debounce_seconds",
    "only_when_zone_locked",
    "intervals",
]


class RuleInline(admin.TabularInline[Rule, Sensor]):
    model = Rule
    extra = 0
    fields = RULE_FIELDS


@admin.register(Sensor)
class SensorAdmin(LedgeredAdminMixin, admin.ModelAdmin[Sensor]):
    list_display = ["device_id", "kind", "site", "zone", "status", "last_value", "last_reading_at"]
    list_filter = ["kind", "status", "payload_format", "battery_powered"]
    search_fields = ["device_id", "name", "site__code", "site__name"]
    autocomplete_fields = ["site"]
    readonly_fields = ["status", "status_since", "last_value", "last_reading_at", "silent_after"]
    inlines = [RuleInline]

    def save_model(self, request: HttpRequest, obj: Sensor, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            add_default_rules(obj)  # the kind's defaults, editable below


@admin.register(Rule)
class RuleAdmin(LedgeredAdminMixin, admin.ModelAdmin[Rule]):
    list_display = ["sensor", "alarm_kind", "kind", "severity", "enabled", "threshold", "clear_at"]
    list_filter = ["kind", "alarm_kind", "severity", "enabled"]
    search_fields = ["sensor__device_id", "sensor__site__code"]
    fields = ["sensor", *RULE_FIELDS]
    autocomplete_fields = ["sensor"]


@admin.register(DeviceToken)
class DeviceTokenAdmin(ReadOnlyAdmin):
    """Issued and revoked through the API (their value is shown once, there)."""

    list_display = ["prefix", "name", "site", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["prefix", "name", "site__code"]


@admin.register(RejectCounter)
class RejectCounterAdmin(ReadOnlyAdmin):
    list_display = ["site_code", "device_id", "channel", "code", "count", "last_at"]
    list_filter = ["channel", "code"]
    search_fields = ["site_code", "device_id"]

"""Warnings are BMKG's record and feeds are national configuration: the admin shows them to a
superuser and changes nothing (ingestion is the only writer, so the ledger holds every
change)."""

from __future__ import annotations

from django.contrib import admin

from siaga.incidents.admin import SuperuserOnly
from siaga.ledger.admin import ReadOnlyAdmin
from siaga.weather.models import Feed, WarningSite, WeatherWarning


@admin.register(Feed)
class FeedAdmin(SuperuserOnly, ReadOnlyAdmin):
    list_display = ["source", "polled", "last_success_at", "published_at", "last_error_code"]


@admin.register(WeatherWarning)
class WeatherWarningAdmin(SuperuserOnly, ReadOnlyAdmin):
    list_display = ["identifier", "msg_type", "severity", "state", "effective", "expires"]
    list_filter = ["state", "msg_type", "severity"]
    search_fields = ["identifier"]


@admin.register(WarningSite)
class WarningSiteAdmin(SuperuserOnly, ReadOnlyAdmin):
    list_display = ["warning", "site", "matched_by", "activated_at", "notified_severity"]

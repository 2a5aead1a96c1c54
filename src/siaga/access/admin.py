"""The gate's records in the admin are read-only: visits, passes, gate events and the watchlist
change only through their services (and so through the ledger)."""

from __future__ import annotations

from django.contrib import admin

from siaga.access.models import GateEvent, Presence, SiteRules, StandingPass, Visit, Visitor
from siaga.accounts.admin import ScopedAdminMixin
from siaga.ledger.admin import ReadOnlyAdmin


@admin.register(Visitor)
class VisitorAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["name", "region", "organisation", "masked_nik", "officer", "watchlisted"]
    list_filter = ["watchlisted", "officer"]
    search_fields = ["name", "organisation"]
    # Personal data is read through the gate's pages and the right-of-access export only.
    exclude = ["photo", "phone", "person", "person_ref"]
    readonly_fields = ["masked_nik"]


@admin.register(Visit)
class VisitAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["visitor", "site", "purpose", "state", "planned_start", "planned_end", "host"]
    list_filter = ["state", "purpose", "walk_in"]
    search_fields = ["visitor__name", "visitor__organisation", "vehicle_plate"]


@admin.register(StandingPass)
class StandingPassAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["visitor", "site", "kind", "valid_from", "valid_until", "revoked_at"]
    list_filter = ["kind"]
    exclude = ["badge_code"]


@admin.register(GateEvent)
class GateEventAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["at", "kind", "visitor", "site", "zone", "guard", "ledger_seq"]
    list_filter = ["kind"]
    search_fields = ["visitor__name", "vehicle_plate"]
    show_full_result_count = False


@admin.register(Presence)
class PresenceAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["visitor", "site", "zone", "entered_at", "expected_out"]


@admin.register(SiteRules)
class SiteRulesAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = [
        "site",
        "two_person_rule",
        "after_hours_start",
        "after_hours_end",
        "max_per_zone",
    ]

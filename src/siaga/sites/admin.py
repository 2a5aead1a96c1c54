from __future__ import annotations

from django.contrib import admin

from siaga.accounts.admin import ScopedAdminMixin
from siaga.ledger.admin import LedgeredAdminMixin
from siaga.sites.models import Site, Zone


class ZoneInline(admin.TabularInline[Zone, Site]):
    model = Zone
    extra = 0
    fields = ["name", "kind", "restricted"]


@admin.register(Site)
class SiteAdmin(LedgeredAdminMixin, ScopedAdminMixin, admin.ModelAdmin[Site]):
    list_display = ["code", "name", "kind", "region", "owner_unit", "voters", "synthetic"]
    list_filter = ["kind", "synthetic", "active"]
    search_fields = ["code", "name", "region__code", "region__name"]
    autocomplete_fields = ["region", "owner_unit"]
    inlines = [ZoneInline]
    show_full_result_count = False


@admin.register(Zone)
class ZoneAdmin(LedgeredAdminMixin, ScopedAdminMixin, admin.ModelAdmin[Zone]):
    list_display = ["name", "site", "kind", "restricted"]
    list_filter = ["kind", "restricted"]
    search_fields = ["name", "site__name", "site__code"]
    autocomplete_fields = ["site"]

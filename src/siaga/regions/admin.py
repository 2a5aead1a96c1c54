from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from siaga.regions.models import Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin[Region]):
    """Regions come from data (``siaga regions load``): read-only here."""

    list_display = ["code", "name", "kind", "level", "postal_code", "active"]
    list_filter = ["level", "kind", "active"]
    search_fields = ["code", "name"]
    readonly_fields = ["code", "name", "level", "kind", "parent", "postal_code", "active"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Region | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Region | None = None) -> bool:
        return False

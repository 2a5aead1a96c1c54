from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import Agency, AgencyUnit, ApiToken, Membership, User
from siaga.accounts.permissions import Action
from siaga.ledger.admin import LedgeredAdminMixin


class ScopedAdminMixin:
    """Staff who are not superusers see only rows inside their management scope."""

    scope_action = Action.MANAGE_MASTER_DATA

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        return qs.for_user(request.user, self.scope_action)


class MembershipInline(admin.TabularInline[Membership, User]):
    model = Membership
    extra = 0
    autocomplete_fields = ["unit"]


@admin.register(User)
class SiagaUserAdmin(LedgeredAdminMixin, UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, (_("Contact"), {"fields": ("phone",)}))  # type: ignore[misc]
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_superuser"]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin[Agency]):
    list_display = ["kind", "name"]


@admin.register(AgencyUnit)
class AgencyUnitAdmin(LedgeredAdminMixin, ScopedAdminMixin, admin.ModelAdmin[AgencyUnit]):
    list_display = ["name", "agency", "region"]
    list_filter = ["agency"]
    search_fields = ["name", "region__code", "region__name"]
    autocomplete_fields = ["region"]


@admin.register(Membership)
class MembershipAdmin(LedgeredAdminMixin, ScopedAdminMixin, admin.ModelAdmin[Membership]):
    scope_action = Action.MANAGE_ACCOUNTS
    list_display = ["user", "unit", "role", "active"]
    list_filter = ["role", "active", "unit__agency"]
    search_fields = ["user__username", "unit__name"]
    autocomplete_fields = ["user", "unit"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["prefix", "name", "user", "created_at", "expires_at", "revoked_at"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "expires_at",
        "last_used_at",
    ]
    search_fields = ["user__username", "name", "prefix"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

"""Safety equipment on the admin pages: every save and delete is a ledger entry (as on every
master-data page), the model's own rules check the form, and the item's alarm follows its
dates at once. Service records and reminders are read-only here (the services write them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey
from django.forms import ModelChoiceField
from django.http import HttpRequest

from siaga.accounts.admin import ScopedAdminMixin
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.ledger.admin import LedgeredAdminMixin, ReadOnlyAdmin
from siaga.regions.codes import subtree_q
from siaga.safety import services
from siaga.safety.models import Equipment, Reminder, ServiceRecord
from siaga.sites.models import Site, Zone


class ServiceInline(admin.TabularInline[ServiceRecord, Equipment]):
    model = ServiceRecord
    extra = 0
    can_delete = False
    fields = ["performed_on", "work", "performed_by", "recorded_by", "next_service_on", "notes"]
    readonly_fields = ["performed_on", "work", "performed_by", "recorded_by", "next_service_on"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Equipment)
class EquipmentAdmin(LedgeredAdminMixin, ScopedAdminMixin, admin.ModelAdmin[Equipment]):
    list_display = [
        "__str__",
        "site",
        "zone",
        "kind",
        "expiry_on",
        "next_service_on",
        "responsible",
        "state",
    ]
    list_filter = ["kind", "state"]
    search_fields = ["serial", "location", "site__name", "site__code"]
    autocomplete_fields = ["site"]
    inlines = [ServiceInline]
    show_full_result_count = False

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        # Only what the admin manages: their sites' zones, people of their region (the
        # model's rules then check that the person may service equipment at the site).
        roots = scope_roots(request.user, Action.MANAGE_MASTER_DATA)
        if db_field.name == "zone":
            zones = Zone.objects.select_related("site")
            kwargs["queryset"] = (
                zones
                if roots is None
                else zones.filter(subtree_q("site__region__code", sorted(roots)))
            )
        if db_field.name == "responsible":
            people = User.objects.filter(is_active=True)
            if roots is not None:
                people = people.filter(
                    subtree_q("memberships__unit__region_id", sorted(roots)),
                    memberships__active=True,
                ).distinct()
            kwargs["queryset"] = people.order_by("username")
        if db_field.name == "site" and roots is not None:
            kwargs["queryset"] = Site.objects.filter(subtree_q("region__code", sorted(roots)))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.reconcile_alarm(obj, actor=request.user)  # type: ignore[arg-type]


@admin.register(ServiceRecord)
class ServiceRecordAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["equipment", "performed_on", "work", "recorded_by", "next_service_on"]
    list_filter = ["work"]
    search_fields = ["equipment__serial", "equipment__site__name", "notes"]
    show_full_result_count = False


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "due", "due_on", "step", "sent_at", "told"]
    list_filter = ["due", "step"]

    def get_queryset(self, request: HttpRequest) -> Any:
        roots = scope_roots(request.user, Action.MANAGE_MASTER_DATA)
        rows = super().get_queryset(request)
        if roots is None:
            return rows
        return rows.filter(subtree_q("equipment__site__region__code", sorted(roots)))

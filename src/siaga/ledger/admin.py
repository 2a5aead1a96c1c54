"""Admin for the ledger (read-only), and the mixin that makes admin edits leave entries too.

Master data edited on the admin pages is custody-relevant (which warehouse, which hall is
restricted, who holds which role), so every save and delete there appends an entry in the
admin's own transaction, like every service does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest

from siaga.ledger import redaction, services
from siaga.ledger.models import Checkpoint, Cosignature, Entry, WitnessKey


def _region_of(obj: Model) -> str:
    path = getattr(type(obj), "scope_region_field", "")
    value: Any = obj
    for part in path.split("__")[:-1]:
        value = getattr(value, part, None)
    return str(getattr(value, "code", "") or "")


def _changes(form: ModelForm[Any]) -> dict[str, str]:
    return redaction.change_record(form.cleaned_data, form.changed_data)


def record_admin_change(
    request: HttpRequest, obj: Model, verb: str, changes: dict[str, str] | None = None
) -> None:
    services.append(
        kind=f"{obj._meta.model_name}.{verb}",
        subject=obj,
        actor=request.user,
        region=_region_of(obj),
        payload={
            "via": "admin",
            "object": str(obj),
            "changes": redaction.change_record(changes or {}, changes or {}),
        },
    )


class LedgeredAdminMixin:
    """Saves and deletes on this admin page append ledger entries in the same transaction."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        record_admin_change(request, obj, "changed" if change else "created", _changes(form))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        record_admin_change(request, obj, "deleted")
        super().delete_model(request, obj)  # type: ignore[misc]

    def save_formset(
        self, request: HttpRequest, form: Any, formset: BaseFormSet[Any], change: bool
    ) -> None:
        """Inline rows (a person's memberships, a site's zones) are recorded one by one."""
        instances = formset.save(commit=False)  # type: ignore[attr-defined]
        for obj in formset.deleted_objects:  # type: ignore[attr-defined]
            record_admin_change(request, obj, "deleted")
            obj.delete()
        for inline_form in formset.forms:
            obj = inline_form.instance
            if obj in instances:
                created = obj._state.adding
                obj.save()
                record_admin_change(
                    request, obj, "created" if created else "changed", _changes(inline_form)
                )
        formset.save_m2m()  # type: ignore[attr-defined]


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "recorded_at", "kind", "subject_type", "subject_id", "actor", "region"]
    list_filter = ["kind"]
    search_fields = ["subject_id", "actor", "region"]
    show_full_result_count = False


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["size", "signed_at"]


@admin.register(WitnessKey)
class WitnessKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "created_at"]


@admin.register(Cosignature)
class CosignatureAdmin(ReadOnlyAdmin):
    list_display = ["checkpoint", "witness", "cosigned_at"]

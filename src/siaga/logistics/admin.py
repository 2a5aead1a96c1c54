"""Admin for the logistics catalogue: elections (voting day, the due days that decide lateness),
item types and their need rules. Rules are data: the next election edits them here, not in the
code. Every save and delete leaves a ledger entry in the same transaction, like a service.

Custody state (stock, packages, seals, handovers) is not edited here: only the services change
it, with its ledger entries, and ``siaga logistics rebuild --check`` proves it."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from siaga.ledger.admin import LedgeredAdminMixin
from siaga.logistics.models import Election, ItemType, NeedRule


class NeedRuleInline(admin.TabularInline[NeedRule, ItemType]):
    model = NeedRule
    extra = 0
    fields = ["basis", "quantity", "reserve_percent", "district_level", "excluded_regions"]
    # A short list of region codes, such as ["31"]: one line, not a page of JSON.
    formfield_overrides = {models.JSONField: {"widget": forms.TextInput(attrs={"size": 24})}}


@admin.register(Election)
class ElectionAdmin(LedgeredAdminMixin, admin.ModelAdmin[Election]):
    list_display = ["code", "name", "voting_day", "ppk_due_days", "pps_due_days", "tps_due_days"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: object, obj: Election | None = None) -> list[str]:
        return ["code"] if obj is not None else []  # the key every record points at


@admin.register(ItemType)
class ItemTypeAdmin(LedgeredAdminMixin, admin.ModelAdmin[ItemType]):
    list_display = ["name", "code", "election", "category", "colour", "unit", "position"]
    list_filter = ["election", "category"]
    search_fields = ["code", "name"]
    inlines = [NeedRuleInline]

"""The look-up log in the admin: read-only, and only for its readers (the data-protection
officer with ``privacy.view_lookuplog``, Bawaslu), each in their own scope."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from siaga.ledger.admin import ReadOnlyAdmin
from siaga.privacy import services
from siaga.privacy.models import LookupLog, PurgeRun


@admin.register(LookupLog)
class LookupLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "answer", "channel", "region", "nik_hash"]
    list_filter = ["answer", "channel"]
    search_fields = ["=username", "=nik_hash", "=region"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[LookupLog]:
        return services.readable_lookups(request.user)  # type: ignore[arg-type]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.may_read_lookups(request.user)  # type: ignore[arg-type]


@admin.register(PurgeRun)
class PurgeRunAdmin(ReadOnlyAdmin):
    list_display = ["at", "photos", "phones", "niks", "redacted"]

"""The look-up log as a page, for the data-protection officer and Bawaslu: who looked up a
NIK, when, where and with what answer. Searching for one NIK is a POST (a NIK never goes in a
URL) and matches its keyed hash; the search is itself a look-up and is recorded."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache

from siaga.access.views.records import record_tabs
from siaga.accounts.auth import actor_of
from siaga.accounts.nik import NikInvalid, validate_nik
from siaga.privacy import services
from siaga.privacy.choices import LookupAnswer

PAGE_SIZE = 50


@never_cache
@login_required
def lookups(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    if not services.may_read_lookups(user):
        raise PermissionDenied
    rows = services.readable_lookups(user)
    source = request.POST if request.method == "POST" else request.GET
    answer = source.get("answer", "")
    if answer in LookupAnswer.values:
        rows = rows.filter(answer=answer)
    nik, error = (request.POST.get("nik") or "").strip(), ""
    if nik:
        try:
            rows = services.lookups_of_nik(user, nik).filter(pk__in=rows.values("pk"))
        except NikInvalid as invalid:
            error, rows = str(invalid.message), rows.none()
    page = Paginator(rows.order_by("-at", "-pk"), PAGE_SIZE).get_page(source.get("page"))
    context = {
        **record_tabs(user, "lookups"),
        "page": page,
        "answers": LookupAnswer.choices,
        "answer": answer,
        "nik": nik if error else "",
        "searched": validate_nik(nik).masked if nik and not error else "",
        "error": error,
    }
    return render(request, "privacy/lookups.html", context)


app_name = "privacy"
urlpatterns = [path("pencarian-nik/", lookups, name="lookups")]

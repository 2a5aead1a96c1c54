"""``/cuaca/``: the warnings in force in the user's scope with their sites and the feeds'
freshness; ``/cuaca/<id>/``: one warning with its areas, sites, steps and CAP fields."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from siaga.accounts.auth import actor_of
from siaga.weather import selectors
from siaga.weather.outline import outline
from siaga.weather.steps import translated_steps

SITES_SHOWN = 200  # a warning over a whole kabupaten covers thousands of TPS


@login_required
@require_GET
def warnings(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    now = timezone.now()
    return render(
        request,
        "weather/warnings.html",
        {
            "warnings": selectors.in_force(user, now),
            "recent": selectors.recent(user, now),
            "feeds": selectors.feed_status(now),
        },
    )


@login_required
@require_GET
def detail(request: HttpRequest, warning_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    now = timezone.now()
    warning = (
        selectors.visible_warnings(user)
        .select_related("superseded_by", "cancelled_by")
        .filter(pk=warning_id)
        .first()
    )
    if warning is None:
        raise Http404
    coverage = selectors.visible_coverage(user).filter(warning=warning).order_by("site__name")
    covered = list(coverage[:SITES_SHOWN])
    areas = list(warning.areas.all())
    return render(
        request,
        "weather/detail.html",
        {
            "warning": warning,
            "info": warning.info(),
            "in_force": warning.is_in_force(now),
            "expired": warning.is_expired(now),
            "steps": translated_steps(warning.hazards),
            "covered_sites": covered,
            "covered_count": coverage.count() if len(covered) == SITES_SHOWN else len(covered),
            "areas": areas,
            "outline": outline(areas, [c.site for c in covered]),
            "references": list(warning.references.select_related("target")),
            "feeds": selectors.feed_status(now),
        },
    )


app_name = "weather"
urlpatterns = [
    path("", warnings, name="warnings"),
    path("<uuid:warning_id>/", detail, name="detail"),
]

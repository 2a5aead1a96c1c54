"""Where everything is, on the web: per warehouse, PPK and PPS in the reader's view, the loose
stock (good and damaged per item), the packages lying there and those on their way to it in a
BAST not yet signed. This is the state the services keep in step with the ledger, and that
``siaga logistics rebuild --check`` proves against it. Read-only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.logistics import services
from siaga.logistics.choices import HandoverState, PackageState, SealState
from siaga.logistics.models import Handover, HandoverPackage, Package, Stock
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

STOCK_KINDS = (SiteKind.WAREHOUSE, SiteKind.PPK, SiteKind.PPS)
SITES_LIMIT = 500
PACKAGES_PAGE = 50


@dataclass
class SiteRow:
    site: Site
    good: int = 0
    damaged: int = 0
    packages: int = 0
    on_the_way: int = 0


def _sites(user: User) -> QuerySet[Site]:
    return Site.objects.for_user(user, Action.VIEW).filter(kind__in=STOCK_KINDS)


@login_required
@require_GET
def stock_page(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    raw = request.GET.get("site", "").strip()
    if raw:
        try:
            site_id = uuid.UUID(raw)
        except ValueError:
            raise Http404 from None
        site = _sites(user).filter(pk=site_id).first()
        if site is None:
            raise Http404
        return _site_page(request, site)
    upstream_first = Case(
        *(When(kind=kind, then=Value(n)) for n, kind in enumerate(STOCK_KINDS)),
        output_field=IntegerField(),
    )
    sites = list(_sites(user).order_by(upstream_first, "code")[:SITES_LIMIT])
    rows = {s.pk: SiteRow(s) for s in sites}
    for site_id, good, damaged in (
        Stock.objects.filter(site__in=sites)
        .values_list("site_id")
        .annotate(Sum("quantity"), Sum("damaged"))
        .order_by()
    ):
        rows[site_id].good, rows[site_id].damaged = good, damaged
    for site_id, count in (
        Package.objects.filter(location__in=sites)
        .exclude(state=PackageState.VOID)
        .values_list("location_id")
        .annotate(Count("id"))
        .order_by()
    ):
        rows[site_id].packages = count
    for site_id, count in (
        HandoverPackage.objects.filter(  # not yet scanned in: a scanned one lies there already
            handover__to_site__in=sites, handover__state=HandoverState.DISPATCHED, received=False
        )
        .values_list("handover__to_site_id")
        .annotate(Count("id"))
        .order_by()
    ):
        rows[site_id].on_the_way = count
    return render(
        request,
        "logistics/custody/stock.html",
        {"rows": list(rows.values())},
    )


def _site_page(request: HttpRequest, site: Site) -> HttpResponse:
    wanted = services.package_code(request.GET.get("q", ""))
    lying = Package.objects.filter(location=site).exclude(state=PackageState.VOID)
    by_state = dict(lying.values_list("state").annotate(Count("id")).order_by())
    intact = Q(seals__state__in=(SealState.APPLIED, SealState.VERIFIED))
    here = lying.select_related("destination").annotate(seal_count=Count("seals", filter=intact))
    if wanted:
        here = here.filter(Q(code__contains=wanted) | Q(destination__code__contains=wanted))
    page = Paginator(here.order_by("destination__code", "code"), PACKAGES_PAGE).get_page(
        request.GET.get("page")
    )
    coming: list[Any] = list(
        Handover.objects.filter(to_site=site, state=HandoverState.DISPATCHED)
        .select_related("from_site")
        .annotate(package_count=Count("packages"))
        .order_by("dispatched_at")
    )
    return render(
        request,
        "logistics/custody/stock_site.html",
        {
            "site": site,
            "stock": list(
                Stock.objects.filter(site=site)
                .filter(Q(quantity__gt=0) | Q(damaged__gt=0))
                .select_related("item")
                .order_by("item__position", "item__code")
            ),
            "page": page,
            "q": request.GET.get("q", "").strip()[:60],
            "by_state": [
                (label, by_state[value])
                for value, label in PackageState.choices
                if value in by_state
            ],
            "coming": coming,
        },
    )


urlpatterns: list[URLPattern] = [
    path("custody/stock/", stock_page, name="stock"),
]

"""Thin views: they read through scoped managers and call services; they never write models."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from siaga.access.models import Presence
from siaga.accounts import services as account_services
from siaga.accounts.auth import actor_of
from siaga.accounts.models import ApiToken, Membership
from siaga.accounts.permissions import ROLE_ACTIONS, Action
from siaga.core.errors import SiagaError
from siaga.incidents.selectors import awaiting_my_acknowledgement
from siaga.notify import views as notify_views
from siaga.regions.codes import is_region_code, subtree_q
from siaga.regions.models import Region
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from siaga.web import dashboard


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise. For load balancers and monitoring."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure to reach the database means "not healthy"
        return JsonResponse({"status": "unavailable", "database": "error"}, status=503)
    return JsonResponse({"status": "ok"})


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """What a throttled sign-in gets: JSON under /api/, a page elsewhere (status 429)."""
    message = _("Too many failed sign-in attempts. Wait 15 minutes and try again.")
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "auth_throttled", "message": message, "detail": None}, status=429
        )
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


def _units_summary(request: HttpRequest) -> list[dict[str, Any]]:
    rows = Membership.objects.filter(user=actor_of(request), active=True).select_related(
        "unit__agency", "unit__region"
    )
    return [
        {
            "unit": m.unit,
            "role": m.get_role_display(),
            "actions": sorted(str(Action(a).label) for a in ROLE_ACTIONS.get(m.role, ())),
        }
        for m in rows
    ]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    sites = Site.objects.for_user(user, Action.VIEW).filter(active=True)
    counts = dict(sites.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    tps = sites.filter(kind=SiteKind.TPS)
    context = {
        "units": _units_summary(request),
        "site_counts": [(kind, counts.get(kind.value, 0)) for kind in SiteKind],
        "voters": tps.aggregate(total=Sum("voters"))["total"] or 0,
        "warehouses": sites.filter(kind=SiteKind.WAREHOUSE)
        .select_related("region")
        .annotate(
            zone_count=Count("zones", distinct=True),
            inside_count=Count("presences", distinct=True),
        ),
        "tps_count": counts.get(SiteKind.TPS.value, 0),
        "inside_now": Presence.objects.for_user(user, Action.VIEW).count(),
        "open_incidents": dashboard.open_incidents(user).count(),
        "newest_open_incidents": dashboard.newest_open_incidents(user),
        "waiting_for_me": awaiting_my_acknowledgement(user).count(),
        "active_alarms": dashboard.active_alarms(user).count(),
        "newest_active_alarms": dashboard.newest_active_alarms(user),
        "night": dashboard.since_yesterday_evening(user),
        "on_their_way": dashboard.on_their_way(user),
        "now_moment": timezone.now(),
    }
    return render(request, "web/home.html", context)


@login_required
def site_list(request: HttpRequest) -> HttpResponse:
    sites = (
        Site.objects.for_user(request.user, Action.VIEW)
        .filter(active=True)
        .select_related("region")
        .order_by("region_id", "kind", "code")
    )
    kind = request.GET.get("kind", "")
    if kind in SiteKind.values:
        sites = sites.filter(kind=kind)
    region = request.GET.get("region", "").strip()
    if region and is_region_code(region):
        sites = sites.filter(subtree_q("region__code", [region]))
    query = request.GET.get("q", "").strip()[:100]
    if query:
        sites = sites.filter(name__icontains=query)
    page = Paginator(sites, 50).get_page(request.GET.get("page"))
    context = {"page": page, "kind": kind, "region": region, "q": query, "kinds": SiteKind}
    template = "sites/_table.html" if request.htmx else "sites/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
def site_detail(request: HttpRequest, site_id: str) -> HttpResponse:
    site = (
        Site.objects.for_user(request.user, Action.VIEW)
        .select_related("region", "owner_unit")
        .filter(pk=site_id)
        .first()
    )
    if site is None:
        raise Http404
    context = {
        "site": site,
        "zones": site.zones.order_by("name"),
        "ancestors": site.region.ancestors(),
    }
    return render(request, "sites/detail.html", context)


@login_required
def region_browse(request: HttpRequest, code: str | None = None) -> HttpResponse:
    region = None
    if code is not None:
        region = Region.objects.filter(code=code).first() if is_region_code(code) else None
        if region is None:
            raise Http404
        children = region.children.order_by("code")
        ancestors = region.ancestors()
    else:
        children = Region.objects.filter(level=1)
        ancestors = []
    context = {"region": region, "children": children, "ancestors": ancestors}
    return render(request, "regions/browse.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    context = {
        "units": _units_summary(request),
        "tokens": ApiToken.objects.filter(user=actor_of(request)),
        "new_token": request.session.pop("new_token", None),
        "notify_endpoints": notify_views.personal_endpoints(actor_of(request)),
    }
    return render(request, "accounts/account.html", context)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    try:
        _token, raw = account_services.issue_api_token(
            actor=actor_of(request),
            name=request.POST.get("name", ""),
            request=request,
        )
    except SiagaError as exc:
        messages.error(request, str(exc.message))
    else:
        # Shown once on the next page, then gone from the session.
        request.session["new_token"] = raw
    return redirect("account")


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    try:
        account_services.revoke_api_token(actor=actor_of(request), token_id=token_id)
    except SiagaError as exc:
        raise Http404 from exc
    messages.success(request, _("The token was revoked."))
    return redirect("account")

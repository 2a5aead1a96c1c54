"""The alarm console: every alarm of the kabupaten (or of one site), the active and worst first,
refreshed by htmx every 15 seconds; acknowledging and clearing go through the services."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.alarms import services
from siaga.alarms.choices import SEVERITY_RANK
from siaga.alarms.models import Alarm
from siaga.core.errors import NotFound, SiagaError
from siaga.core.validators import since_param
from siaga.sites import chooser
from siaga.sites.models import Site

PAGE_SIZE = 50
SHOW = {
    "active": Q(active=True),
    "unacknowledged": Q(acknowledged_at__isnull=True),
}
SEVERITY_ORDER = Case(
    *[When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()],
    default=Value(9),
    output_field=IntegerField(),
)


def _site_param(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@login_required
def console(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    alarms = Alarm.objects.for_user(user, Action.VIEW)
    sites = Site.objects.for_user(user, Action.VIEW)
    query, typed, site_error = chooser.filter_query(request.GET, user)
    site = None
    site_id = _site_param(query.get("site", ""))
    if site_id is not None:
        site = sites.filter(pk=site_id).first()
        if site is None:
            raise Http404
        alarms = alarms.filter(site=site)
    if site_error:
        alarms = alarms.none()
    since = since_param(request.GET.get("since"))
    if since is not None:
        alarms = alarms.filter(first_raised_at__gte=since)
    show = request.GET.get("show", "")
    if show in SHOW:
        alarms = alarms.filter(SHOW[show])
    else:
        show = ""
    counts = alarms.aggregate(
        active_count=Count("id", filter=Q(active=True)),
        unacknowledged_count=Count("id", filter=Q(active=True, acknowledged_at__isnull=True)),
    )
    ordered = (
        alarms.select_related("site", "zone", "acknowledged_by", "incident")
        .annotate(severity_order=SEVERITY_ORDER)
        .order_by("-active", "severity_order", "-last_raised_at")
    )
    page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (alarm, user_can(user, Action.RESPOND_INCIDENT, alarm.site.region_id)) for alarm in page
    ]
    context = {
        "page": page,
        "rows": rows,
        "site": site,
        "show": show,
        "since": since,
        "counts": counts,
        "site_filter": chooser.site_filter(
            request,
            sites.filter(Exists(Alarm.objects.filter(site=OuterRef("pk")))),
            chosen=site,
            every=_("Every site in my scope"),
            typed=typed,
            error=site_error,
        ),
        "refresh_url": request.get_full_path(),
    }
    template = "alarms/_table.html" if request.htmx else "alarms/console.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _back(request: HttpRequest) -> HttpResponse:
    """To the console as it was: the same site and view."""
    query = {}
    site_id = _site_param(request.POST.get("site", ""))
    if site_id is not None:
        query["site"] = str(site_id)
    if request.POST.get("show", "") in SHOW:
        query["show"] = request.POST["show"]
    url = reverse("alarms:console")
    return redirect(f"{url}?{urlencode(query)}" if query else url)


def _act(request: HttpRequest, change: Callable[[], object], done: str) -> HttpResponse:
    try:
        change()
    except NotFound as exc:
        raise Http404 from exc
    except SiagaError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, done)
    return _back(request)


@login_required
@require_POST
def acknowledge(request: HttpRequest, alarm_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        lambda: services.acknowledge_alarm(actor=actor_of(request), alarm_id=alarm_id),
        _("Alarm acknowledged: reminders stop."),
    )


@login_required
@require_POST
def clear(request: HttpRequest, alarm_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        lambda: services.clear_alarm_by_hand(actor=actor_of(request), alarm_id=alarm_id),
        _("Alarm cleared."),
    )

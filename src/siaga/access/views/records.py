"""The gate's records for commanders, KPU and Bawaslu: the log and its Excel export, the
evacuation roll call, standing passes with their printable badges, a site's access rules and the
watchlist.

Thin: reads go through scoped managers and ``selectors``; every POST is one call to
``services``, whose refusals come back as an alert on the page with what was typed kept —
never as a 500."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siaga.access import selectors, services
from siaga.access.choices import GateEventKind, Officer, PassKind
from siaga.access.models import GateEvent, Presence, SiteRules, StandingPass, Visitor
from siaga.accounts.auth import actor_of
from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core.errors import InvalidInput, NotFound, SiagaError
from siaga.core.idempotency import Created
from siaga.core.ids import uuid7
from siaga.privacy import services as privacy
from siaga.regions.codes import parent_code, subtree_q
from siaga.regions.timezones import time_zone_of
from siaga.sites import chooser
from siaga.sites.models import Site, Zone

PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Filter lists stay short enough for a phone; a national reader narrows by date or text.
SITE_CHOICES_LIMIT = 50  # sites with zones where a pass may be issued: warehouses and stores


# ---------------------------------------------------------------------------------------------
# Shared bits


def _may_approve_somewhere(user: User) -> bool:
    roots = scope_roots(user, Action.APPROVE_ACCESS)
    return roots is None or bool(roots)


def _visible_site(user: User, site_id: uuid.UUID) -> Site:
    """A site the user may see, or 404: a stranger learns nothing of sites outside their
    scope."""
    site = Site.objects.for_user(user, Action.VIEW).filter(pk=site_id).first()
    if site is None:
        raise Http404
    return site


def _refused(request: HttpRequest, exc: SiagaError) -> int:
    messages.error(request, str(exc.message))
    return exc.status


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw or ""))
    except ValueError:
        return None


def _time(raw: str | None, field: str) -> dt.time | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "time_invalid", _("A time is hours and minutes, e.g. 07:30."), detail={"field": field}
        ) from None


def _date(raw: str | None, field: str) -> dt.date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "date_invalid", _("A date is year, month and day."), detail={"field": field}
        ) from None


def _zones_by_site(sites: Iterable[Site]) -> list[tuple[Site, list[Zone]]]:
    """The zones of ``sites``, grouped per site in the sites' order: one query."""
    ordered = list(sites)
    grouped: dict[uuid.UUID, list[Zone]] = {site.pk: [] for site in ordered}
    for zone in Zone.objects.filter(site_id__in=grouped).order_by("name"):
        grouped[zone.site_id].append(zone)
    return [(site, grouped[site.pk]) for site in ordered]


@dataclass(frozen=True)
class LocalTime:
    """A moment as the site's clock shows it: naive, so that templates do not move it into the
    server's zone, and the zone's name (WIB, WITA, WIT) beside it."""

    at: dt.datetime
    tz: str

    def __str__(self) -> str:
        return f"{self.at:%d-%m-%Y %H:%M} {self.tz}"


def _local(site: Site, at: dt.datetime) -> LocalTime:
    local = services.local_time(site, at)
    return LocalTime(local.replace(tzinfo=None), local.tzname() or "")


def record_tabs(user: User, current: str) -> dict[str, Any]:
    """The records' tabs: the watchlist only for those who may open it."""
    return {
        "tab": current,
        "tab_watchlist": _may_approve_somewhere(user) or _is_bawaslu(user),
        "tab_lookups": privacy.may_read_lookups(user),
    }


# ---------------------------------------------------------------------------------------------
# The gate log and its export


@dataclass(frozen=True)
class LogRow:
    event: GateEvent
    local: LocalTime

    @property
    def companions(self) -> str:
        return ", ".join(c.get("name", "") for c in self.event.companions)

    @property
    def items(self) -> str:
        return selectors.items_in_words(self.event.items)


@dataclass
class LogQuery:
    filters: selectors.LogFilters
    events: QuerySet[GateEvent]
    error: str = ""
    typed_site: str = ""  # a site's code as typed in the filter


def _log_events(request: HttpRequest) -> LogQuery:
    """The log as the filters ask for it, in the user's scope; a reversed date range or a site
    code not in scope shows nothing and says why."""
    posted = request.method == "POST"
    query, typed, site_error = chooser.filter_query(
        request.POST if posted else request.GET, actor_of(request)
    )
    filters = selectors.LogFilters.from_query(query)
    events = filters.apply(GateEvent.objects.for_user(actor_of(request), Action.VIEW))
    if site_error:
        return LogQuery(filters, events.none(), site_error, typed)
    if not posted and selectors.looks_like_nik(filters.q):
        # A NIK never travels in a URL (nor in the access log that keeps URLs): the form
        # sends it in a POST body. The number is not shown back.
        filters.q = ""
        message = _("Search by NIK with the search form, not in a link.")
        return LogQuery(filters, events.none(), message, typed)
    try:
        selectors.check_range(filters.since, filters.until)
    except SiagaError as exc:
        return LogQuery(filters, events.none(), str(exc.message), typed)
    # A visitor's photo is up to 5 MB; a table row needs none of it.
    return LogQuery(filters, events.defer("visitor__photo"), "", typed)


def _log_sites(user: User) -> QuerySet[Site]:
    with_events = GateEvent.objects.filter(site=OuterRef("pk"))
    return Site.objects.for_user(user, Action.VIEW).filter(Exists(with_events))


@login_required
@require_http_methods(["GET", "POST"])
def gate_log(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    asked = _log_events(request)
    filters, error = asked.filters, asked.error
    source = request.POST if request.method == "POST" else request.GET
    page = Paginator(selectors.log_rows(asked.events), PAGE_SIZE).get_page(source.get("page"))
    rows = [LogRow(event, _local(event.site, event.at)) for event in page]
    site_filter = chooser.site_filter(
        request,
        _log_sites(user),
        chosen=filters.site,
        typed=asked.typed_site,
        error=error if asked.typed_site and not filters.site else "",
    )
    chosen = site_filter.chosen
    context = {
        "page": page,
        "rows": rows,
        "filters": filters,
        "error": error,
        "kinds": GateEventKind.choices,
        "site_filter": site_filter,
        "zones": list(Zone.objects.filter(site=chosen).order_by("name")) if chosen else [],
        "chosen_site": chosen,
        "export_query": urlencode(filters.as_query()),
        "export_fields": sorted(filters.as_query().items()),
        "export_limit": selectors.EXPORT_LIMIT,
        **record_tabs(user, "log"),
    }
    template = "access/records/_log_results.html" if request.htmx else "access/records/log.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def log_export(request: HttpRequest) -> HttpResponse:
    """The log as Excel: from a link (GET, no NIK), or from the page's form (POST: its search
    may be a NIK)."""
    asked = _log_events(request)
    filters, events, error = asked.filters, asked.events, asked.error
    if error:
        messages.error(request, error)
        query = urlencode(filters.as_query())
        return redirect(f"{reverse('access:log')}?{query}" if query else reverse("access:log"))
    body = selectors.export_workbook(events, title=_("Gate log"))
    rows = min(events.count(), selectors.EXPORT_LIMIT)
    if rows:  # an empty export discloses nothing and leaves no trace
        site = Site.objects.filter(pk=filters.site).first() if filters.site else None
        services.record_log_export(
            actor=actor_of(request), filters=filters.as_query(), rows=rows, site=site
        )
    response = HttpResponse(body, content_type=XLSX)
    day = timezone.localdate()
    response["Content-Disposition"] = f'attachment; filename="siaga-gate-log-{day:%Y-%m-%d}.xlsx"'
    # Names and masked NIKs: no shared cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------------------------------------
# The evacuation roll call


@dataclass(frozen=True)
class RollCallPerson:
    presence: Presence
    entered: LocalTime
    zone_since: LocalTime
    overstaying: bool

    @property
    def credential(self) -> str:
        if self.presence.visit is not None:
            return self.presence.visit.reference
        if self.presence.standing_pass is not None:
            return str(self.presence.standing_pass.get_kind_display())
        return ""


@login_required
@require_GET
def roll_call(request: HttpRequest, site_id: uuid.UUID) -> HttpResponse:
    site = _visible_site(actor_of(request), site_id)
    board = selectors.inside_board(site)
    groups = [
        (
            group,
            [
                RollCallPerson(
                    presence=p,
                    entered=_local(site, p.entered_at),
                    zone_since=_local(site, p.zone_since),
                    overstaying=selectors.is_overstaying(p, board.at),
                )
                for p in group.people
            ],
        )
        for group in board.groups
    ]
    context = {
        "site": site,
        "board": board,
        "occupied": [(g, people) for g, people in groups if people],
        "empty": [g for g, people in groups if not people],
        "printed_at": _local(site, board.at),
    }
    return render(request, "access/records/roll_call.html", context)


# ---------------------------------------------------------------------------------------------
# Standing passes and their badges


def _days_label(weekdays: str) -> str:
    """ISO weekday digits in words: "12345" is "Mon–Fri", "1357" is "Mon, Wed, Fri, Sun"."""
    if len(weekdays) == 7:
        return _("every day")
    days = sorted({int(d) for d in weekdays})
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [str(WEEKDAYS_ABBR[d - 1]) for d in range(1, 8)]
    return ", ".join(
        f"{names[run[0] - 1]}–{names[run[-1] - 1]}"
        if len(run) > 2
        else ", ".join(names[d - 1] for d in run)
        for run in runs
    )


@dataclass(frozen=True)
class PassRow:
    issued: StandingPass
    valid_from: LocalTime
    valid_until: LocalTime
    may_manage: bool
    status: str
    status_label: str

    @property
    def days(self) -> str:
        return _days_label(self.issued.weekdays)

    @property
    def last_day(self) -> dt.date:
        """The last day the pass is good on: one ending at midnight ends the day before."""
        return (self.valid_until.at - dt.timedelta(microseconds=1)).date()

    @property
    def hours(self) -> str:
        start, end = self.issued.start_time, self.issued.end_time
        if start is None or end is None:
            return _("all day")
        return f"{start:%H:%M}–{end:%H:%M}"


def _pass_status(issued: StandingPass, now: dt.datetime) -> tuple[str, str]:
    if issued.revoked_at is not None:
        return "revoked", _("Revoked")
    if now >= issued.valid_until:
        return "expired", _("Expired")
    if now < issued.valid_from:
        return "future", _("Not yet valid")
    return "valid", _("Valid")


def _pass_row(user: User, issued: StandingPass, now: dt.datetime) -> PassRow:
    status, label = _pass_status(issued, now)
    return PassRow(
        issued=issued,
        valid_from=_local(issued.site, issued.valid_from),
        valid_until=_local(issued.site, issued.valid_until),
        may_manage=user_can(user, Action.APPROVE_ACCESS, issued.site.region_id),
        status=status,
        status_label=label,
    )


def _passes_in_scope(user: User) -> QuerySet[StandingPass]:
    return (
        StandingPass.objects.for_user(user, Action.VIEW)
        .select_related("visitor", "site", "issued_by", "revoked_by")
        .defer("visitor__photo")
        .prefetch_related("zones")
    )


def _issuing_sites(user: User) -> list[Site]:
    """Where the user may issue passes: their sites that have zones (a gate to open)."""
    has_zones = Zone.objects.filter(site=OuterRef("pk"))
    return list(
        Site.objects.for_user(user, Action.APPROVE_ACCESS)
        .filter(Exists(has_zones), active=True)
        .order_by("name")[:SITE_CHOICES_LIMIT]
    )


def _account_id(username: str) -> int | None:
    username = username.strip()
    if not username:
        return None
    pk = User.objects.filter(username=username, is_active=True).values_list("pk", flat=True)
    found = pk.first()
    if found is None:
        raise InvalidInput(
            "user_unknown",
            _("No active SIAGA account has this username."),
            detail={"field": "user"},
        )
    return found


def _issue_from_form(post: QueryDict, user: User) -> Created[StandingPass]:
    """The issue form, shaped for the one call the API makes too."""
    site_id = _uuid(post.get("site"))
    if site_id is None:
        raise InvalidInput("site_required", _("Choose a site."), detail={"field": "site"})
    zone_ids = [z for z in map(_uuid, post.getlist("zones")) if z is not None]
    weekdays = "".join(sorted({d for d in post.getlist("weekdays") if d in "1234567" and d}))
    if not weekdays:
        raise InvalidInput(
            "pass_weekdays_required", _("Tick at least one day."), detail={"field": "weekdays"}
        )
    valid_until = _date(post.get("valid_until"), "valid_until")
    if valid_until is None:
        raise InvalidInput(
            "pass_validity_required",
            _("Say until which day the pass is valid."),
            detail={"field": "valid_until"},
        )
    valid_from = _date(post.get("valid_from"), "valid_from")
    # Dates are the site's own days (WIB, WITA or WIT): from the first day's start to the
    # last day's end.
    region = (
        Site.objects.for_user(user, Action.VIEW)
        .filter(pk=site_id)
        .values_list("region_id", flat=True)
        .first()
    )
    zone: ZoneInfo = time_zone_of(region or "")
    return services.issue_pass(
        actor=user,
        id=_uuid(post.get("id")) or uuid7(),
        person=services.PersonData(
            nik=post.get("nik", "").strip(),
            name=post.get("name", ""),
            organisation=post.get("organisation", ""),
            phone=post.get("phone", ""),
        ),
        site_id=site_id,
        zone_ids=zone_ids,
        kind=post.get("kind", ""),
        officer=post.get("officer", ""),
        user_id=_account_id(post.get("user", "")),
        weekdays=weekdays,
        start_time=_time(post.get("start_time"), "start_time"),
        end_time=_time(post.get("end_time"), "end_time"),
        valid_from=dt.datetime.combine(valid_from, dt.time.min, zone) if valid_from else None,
        valid_until=dt.datetime.combine(valid_until, dt.time.max, zone),
    )


@login_required
@require_http_methods(["GET", "POST"])
def passes(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    status = 200
    posted: Any = {}
    if request.method == "POST":
        try:
            result = _issue_from_form(request.POST, user)
        except SiagaError as exc:
            status = _refused(request, exc)
            posted = request.POST
        else:
            if result.created:
                messages.success(request, _("Pass issued. Print the badge below."))
            else:
                messages.info(request, _("This pass was already issued; nothing new was created."))
            return redirect("access:badge", pass_id=result.obj.pk)
    return _passes_page(request, user, posted=posted, status=status)


def _passes_page(
    request: HttpRequest, user: User, *, posted: Any = None, status: int = 200
) -> HttpResponse:
    posted = posted or {}
    now = timezone.now()
    listed = _passes_in_scope(user)
    query, typed, site_error = chooser.filter_query(request.GET, user)
    site_id = _uuid(query.get("site"))
    if site_id is not None:
        listed = listed.filter(site_id=site_id)
    if site_error:
        listed = listed.none()
    show = request.GET.get("show", "")
    if show != "all":
        show = ""
        listed = listed.filter(revoked_at__isnull=True, valid_until__gt=now)
    page = Paginator(listed.order_by("site__name", "visitor__name", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    issuing = _issuing_sites(user) if _may_approve_somewhere(user) else []
    context = {
        "page": page,
        "rows": [_pass_row(user, issued, now) for issued in page],
        "show": show,
        "site_id": site_id,
        "site_filter": chooser.site_filter(
            request,
            Site.objects.for_user(user, Action.VIEW).filter(
                Exists(StandingPass.objects.filter(site=OuterRef("pk")))
            ),
            chosen=site_id,
            typed=typed,
            error=site_error,
        ),
        "issuing_zones": _zones_by_site(issuing),
        "kinds": PassKind.choices,
        "officers": Officer.choices,
        "weekdays": [(str(n + 1), WEEKDAYS_ABBR[n]) for n in range(7)],
        "posted": posted,
        "posted_zones": posted.getlist("zones") if posted else [],
        "posted_weekdays": posted.getlist("weekdays") if posted else list("1234567"),
        "form_id": (posted.get("id") if posted else "") or uuid7(),
        "today": timezone.localdate(),
        **record_tabs(user, "passes"),
    }
    return render(request, "access/records/passes.html", context, status=status)


@login_required
@require_POST
def pass_revoke(request: HttpRequest, pass_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    if not StandingPass.objects.for_user(user, Action.VIEW).filter(pk=pass_id).exists():
        raise Http404
    try:
        services.revoke_pass(actor=user, pass_id=pass_id)
    except NotFound as exc:
        raise Http404 from exc
    except SiagaError as exc:
        # The list of passes, with the reason, under the refusal's own status (403).
        return _passes_page(request, user, status=_refused(request, exc))
    messages.success(request, _("Pass revoked: its badge no longer opens the gate."))
    return redirect("access:passes")


def _qr_svg(text: str) -> SafeString:
    svg = segno.make(text, error="m").svg_inline(
        scale=1, border=4, omitsize=True, svgclass="badge-qr", lineclass="badge-qr-line"
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the payload is not in it


@login_required
@require_GET
def badge(request: HttpRequest, pass_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    issued = _passes_in_scope(user).filter(pk=pass_id).first()
    if issued is None:
        raise Http404
    # The QR opens the gate: only those who may issue passes at this site see it.
    if not user_can(user, Action.APPROVE_ACCESS, issued.site.region_id):
        raise DjangoPermissionDenied
    row = _pass_row(user, issued, timezone.now())
    context = {
        "row": row,
        "issued": issued,
        "holder": issued.visitor,
        "qr": _qr_svg(issued.qr_payload) if row.status in ("valid", "future") else "",
    }
    return render(request, "access/records/badge.html", context)


# ---------------------------------------------------------------------------------------------
# A site's access rules


def _rules_from_form(post: QueryDict, user: User, site: Site) -> SiteRules:
    start = _time(post.get("after_hours_start"), "after_hours_start")
    end = _time(post.get("after_hours_end"), "after_hours_end")
    if start is None or end is None:
        raise InvalidInput(
            "after_hours_required",
            _("Give both ends of the after-hours window (the same time twice: none)."),
            detail={"field": "after_hours_start"},
        )
    raw_max = post.get("max_per_zone", "").strip()
    try:
        max_per_zone = int(raw_max) if raw_max else None
    except ValueError:
        raise InvalidInput(
            "max_per_zone_invalid",
            _("The most people in one zone is a whole number (or empty: no limit)."),
            detail={"field": "max_per_zone"},
        ) from None
    return services.update_rules(
        actor=user,
        site_id=site.pk,
        two_person_rule=post.get("two_person_rule") == "on",
        after_hours_start=start,
        after_hours_end=end,
        max_per_zone=max_per_zone,
    )


@login_required
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, site_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    site = _visible_site(user, site_id)
    status = 200
    posted: Any = {}
    if request.method == "POST":
        try:
            _rules_from_form(request.POST, user, site)
        except NotFound as exc:
            raise Http404 from exc
        except SiagaError as exc:
            status = _refused(request, exc)
            posted = request.POST
        else:
            messages.success(request, _("Access rules saved."))
            return redirect("access:rules", site_id=site.pk)
    current = services.rules_of(site)
    zones = list(Zone.objects.filter(site=site).order_by("name"))
    context = {
        "site": site,
        "rules": current,
        "updated_by": current.updated_by if current.updated_by_id else None,
        "may_edit": user_can(user, Action.APPROVE_ACCESS, site.region_id),
        "posted": posted,
        "two_person_zones": [z for z in zones if services.needs_two_persons(z)],
        "zones": zones,
        "time_zone": _local(site, timezone.now()).tz,
        "updated_at": _local(site, current.updated_at) if current.updated_at else None,
    }
    return render(request, "access/records/rules.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# The watchlist


def _is_bawaslu(user: User) -> bool:
    return Membership.objects.filter(user=user, active=True, role=Role.BAWASLU_SUPERVISOR).exists()


def _listings(user: User) -> QuerySet[Visitor]:
    """Listings made in the user's regions, above them, or nationally. A listing holds at every
    gate, but a neighbouring kabupaten's list is theirs to read."""
    listed = Visitor.objects.filter(watchlisted=True)
    roots = scope_roots(user, Action.VIEW)
    if roots is not None:
        above = {""}
        for root in roots:
            code: str | None = root
            while code is not None:
                above.add(code)
                code = parent_code(code)
        listed = listed.filter(
            Q(watchlist_region__in=above) | subtree_q("watchlist_region", sorted(roots))
        )
    return listed.select_related("watchlisted_by").defer("photo")


def _change_watchlist(post: QueryDict, user: User) -> Visitor:
    if post.get("listed") == "1":
        return services.set_watchlist(
            actor=user,
            nik=post.get("nik", "").strip(),
            name=post.get("name", ""),
            reason=post.get("reason", "")[:300],
            listed=True,
        )
    visitor_id = _uuid(post.get("visitor"))
    visitor = _listings(user).filter(pk=visitor_id).first() if visitor_id else None
    if visitor is None:
        raise NotFound("visitor_not_found", _("No such listing."))
    return services.set_watchlist(actor=user, nik=visitor.nik, listed=False)


@login_required
@require_http_methods(["GET", "POST"])
def watchlist(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    may_change = _may_approve_somewhere(user)
    if not may_change and not _is_bawaslu(user):
        raise DjangoPermissionDenied
    status = 200
    posted: Any = {}
    if request.method == "POST":
        try:
            visitor = _change_watchlist(request.POST, user)
        except SiagaError as exc:
            status = _refused(request, exc)
            if request.POST.get("listed") == "1":
                posted = request.POST
        else:
            if visitor.watchlisted:
                messages.success(
                    request,
                    _("%(name)s is on the watchlist: the gate refuses them and raises an alarm.")
                    % {"name": visitor.name},
                )
            else:
                messages.success(
                    request, _("%(name)s is off the watchlist.") % {"name": visitor.name}
                )
            return redirect("access:watchlist")
    page = Paginator(_listings(user).order_by("-watchlisted_at", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "rows": [
            (v, user_can(user, Action.APPROVE_ACCESS, v.watchlist_region or "00")) for v in page
        ],
        "may_change": may_change,
        "posted": posted,
        **record_tabs(user, "watchlist"),
    }
    return render(request, "access/records/watchlist.html", context, status=status)


urlpatterns: list[URLPattern] = [
    path("log/", gate_log, name="log"),
    path("log/export.xlsx", log_export, name="log_export"),
    path("<uuid:site_id>/apel/", roll_call, name="roll_call"),
    path("<uuid:site_id>/aturan/", rules, name="rules"),
    path("pass/", passes, name="passes"),
    path("pass/<uuid:pass_id>/badge/", badge, name="badge"),
    path("pass/<uuid:pass_id>/cabut/", pass_revoke, name="pass_revoke"),
    path("daftar-pantau/", watchlist, name="watchlist"),
]

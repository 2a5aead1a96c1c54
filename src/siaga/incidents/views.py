"""Incident pages: the list with its offline map, one incident with its timeline and actions,
the one-tap report for phones, "waiting for my acknowledgement" and the statistics.

Thin: reads go through scoped managers and ``selectors``; every change is one call to
``services``, whose refusals come back to the page as an alert, never as a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siaga.accounts.auth import actor_of
from siaga.accounts.models import Membership, User
from siaga.accounts.permissions import ROLE_ACTIONS, Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core.errors import InvalidInput, NotFound, SiagaError
from siaga.core.ids import uuid7
from siaga.incidents import selectors, services
from siaga.incidents.choices import (
    OPEN_STATES,
    SEVERITY_DEFINITIONS,
    Category,
    Severity,
    State,
)
from siaga.incidents.models import EscalationTier, Incident
from siaga.regions.codes import covering_codes, is_region_code, subtree_q
from siaga.sites import chooser
from siaga.sites.models import Site

PAGE_SIZE = 50

# The severity each category's big button on the report page starts from (the guard can still
# change it). Its picture is drawn in ``incidents/_category_icon.html``.
CATEGORY_SEVERITY: dict[str, int] = {
    Category.FIRE: Severity.CRITICAL,
    Category.WATER: Severity.HIGH,
    Category.THEFT: Severity.CRITICAL,
    Category.INTRUSION: Severity.CRITICAL,
    Category.DAMAGE: Severity.HIGH,
    Category.MISSING: Severity.CRITICAL,
    Category.PUBLIC_ORDER: Severity.HIGH,
    Category.POWER_CCTV: Severity.MEDIUM,
    Category.OTHER: Severity.MEDIUM,
}
RESPONDER_ROLES = [
    role for role, actions in ROLE_ACTIONS.items() if Action.RESPOND_INCIDENT in actions
]


def _visible_incidents(request: HttpRequest) -> Any:
    return Incident.objects.for_user(actor_of(request), Action.VIEW)


def _severities() -> list[dict[str, Any]]:
    return [
        {"value": value, "label": label, "definition": SEVERITY_DEFINITIONS[value]}
        for value, label in Severity.choices
    ]


# ---------------------------------------------------------------------------------------------
# The list and its map


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    query, typed, site_error = chooser.filter_query(request.GET, user)
    filters = selectors.IncidentFilters.from_query(query)
    incidents = filters.apply(_visible_incidents(request))
    if site_error:
        incidents = incidents.none()
    page = Paginator(
        incidents.select_related("site", "zone", "region", "assignee").order_by("-reported_at"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    sites = Site.objects.for_user(user, Action.VIEW).filter(active=True)
    context = {
        "page": page,
        "filters": filters,
        "map": selectors.incident_map(incidents, sites),
        "states": State.choices,
        "categories": Category.choices,
        "severities": Severity.choices,
        "site_filter": chooser.site_filter(
            request,
            sites.filter(Exists(Incident.objects.filter(site=OuterRef("pk")))),
            chosen=filters.site,
            every=_("Every site"),
            typed=typed,
            error=site_error,
        ),
        "waiting": selectors.awaiting_my_acknowledgement(user).count(),
    }
    template = "incidents/_results.html" if request.htmx else "incidents/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


# ---------------------------------------------------------------------------------------------
# One incident


def _responders(region: str) -> list[Membership]:
    """People who may respond to incidents at ``region``: a role that allows it, in a unit
    whose region contains it."""
    covering = covering_codes(region)
    return list(
        Membership.objects.filter(
            active=True,
            role__in=RESPONDER_ROLES,
            unit__region_id__in=covering,
            user__is_active=True,
        )
        .select_related("user", "unit")
        .order_by("user__first_name", "user__username", "unit__name")
    )


def _get_incident(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    incident = (
        _visible_incidents(request)
        .select_related(
            "site", "zone", "region", "reporter", "acknowledged_by", "assignee", "policy"
        )
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise Http404
    return incident


@login_required
def incident_detail(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    incident = _get_incident(request, incident_id)
    region = incident.region_id
    can_respond = user_can(user, Action.RESPOND_INCIDENT, region)
    can_report = user_can(user, Action.REPORT_INCIDENT, region)
    context = {
        "incident": incident,
        "ancestors": incident.region.ancestors(),
        "photos": list(incident.photos.defer("content")),
        "links": list(incident.links.order_by("link_type", "label")),
        "alarms": list(incident.alarms.select_related("site", "zone").order_by("-last_raised_at")),
        "notified": list(incident.notified.select_related("user").order_by("tier", "first_at")),
        "events": list(incident.events.select_related("actor")),
        "tier": EscalationTier.objects.filter(
            policy_id=incident.policy_id, number=incident.tier
        ).first()
        if incident.policy_id and incident.tier
        else None,
        "can_respond": can_respond,
        "can_comment": can_report or can_respond or user_can(user, Action.FILE_FINDING, region),
        "can_add_photo": can_report or can_respond,
        "open": incident.state in OPEN_STATES,
        "responders": _responders(region) if can_respond else [],
        "comment_id": uuid7(),
    }
    return render(request, "incidents/detail.html", context)


def _act(
    request: HttpRequest,
    incident_id: uuid.UUID,
    change: Callable[[User], Any],
    done: str,
) -> HttpResponse:
    """Run one service for the signed-in person and go back to the incident. An incident they
    cannot see is a 404 (before the service checks its input, so that nothing tells a stranger
    whether it exists); any other refusal is shown on the page with the service's message."""
    if not _visible_incidents(request).filter(pk=incident_id).exists():
        raise Http404
    try:
        change(actor_of(request))
    except NotFound as exc:
        raise Http404 from exc
    except SiagaError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, done)
    return redirect("incidents:detail", incident_id=incident_id)


@login_required
@require_POST
def acknowledge(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        incident_id,
        lambda actor: services.acknowledge_incident(actor=actor, incident_id=incident_id),
        _("Acknowledged: the escalation has stopped."),
    )


@login_required
@require_POST
def respond(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        incident_id,
        lambda actor: services.start_response(actor=actor, incident_id=incident_id),
        _("You took charge: the incident is being handled."),
    )


@login_required
@require_POST
def resolve(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    resolution = request.POST.get("resolution", "")[:4000]
    return _act(
        request,
        incident_id,
        lambda actor: services.resolve_incident(
            actor=actor, incident_id=incident_id, resolution=resolution
        ),
        _("Resolved."),
    )


@login_required
@require_POST
def close(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        incident_id,
        lambda actor: services.close_incident(actor=actor, incident_id=incident_id),
        _("Closed."),
    )


@login_required
@require_POST
def reopen(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    reason = request.POST.get("reason", "")[:4000]
    return _act(
        request,
        incident_id,
        lambda actor: services.reopen_incident(actor=actor, incident_id=incident_id, reason=reason),
        _("Reopened."),
    )


@login_required
@require_POST
def assign(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    def change(actor: User) -> Any:
        try:
            user_id = int(request.POST.get("user", ""))
        except ValueError:
            raise InvalidInput("responder_invalid", _("Choose a responder.")) from None
        return services.assign_responder(actor=actor, incident_id=incident_id, user_id=user_id)

    return _act(request, incident_id, change, _("Responder assigned."))


@login_required
@require_POST
def comment(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    text = request.POST.get("text", "")[:4000]
    try:
        client_id: uuid.UUID | None = uuid.UUID(request.POST.get("id", ""))
    except ValueError:
        client_id = None
    return _act(
        request,
        incident_id,
        lambda actor: services.comment_on_incident(
            actor=actor, incident_id=incident_id, text=text, id=client_id
        ),
        _("Comment added."),
    )


@login_required
@require_POST
def add_photo(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    def change(actor: User) -> Any:
        photo = request.FILES.get("photo")
        if photo is None:
            raise InvalidInput("photo_required", _("Choose a photo to add."))
        return services.add_photo(
            actor=actor, incident_id=incident_id, photo=photo, size=photo.size
        )

    return _act(request, incident_id, change, _("Photo added."))


# ---------------------------------------------------------------------------------------------
# The one-tap report


def _place_chooser(request: HttpRequest, user: User, chosen: str) -> chooser.Chooser:
    """Where: the reporter's post, search, and (from the page's script) the nearest sites."""
    if not chosen:
        few = list(chooser.scope(user, "report")[:2])
        chosen = str(few[0].pk) if len(few) == 1 else ""
    place = chooser.build(
        request,
        purpose="report",
        mode="radio",
        field="site",
        label=_("Where"),
        chosen=chosen,
        allow_none=_("Not at a site / as my location says"),
    )
    if chosen and all(str(site.pk) != chosen for site in place.post):
        try:
            picked = chooser.scope(user, "report").filter(pk=uuid.UUID(chosen)).first()
        except ValueError:
            picked = None
        if picked is not None:
            place.post.insert(0, picked)
    return place


def _coordinate(raw: str) -> Decimal | None:
    try:
        return Decimal(raw).quantize(Decimal("0.000001")) if raw.strip() else None
    except (InvalidOperation, ValueError):
        raise InvalidInput("coordinates_invalid", _("The location is not a number.")) from None


def _report_from_form(request: HttpRequest, actor: User) -> services.Reported:
    """The plain-form fallback (no JavaScript): the same call the API makes."""
    post = request.POST
    try:
        report_id = uuid.UUID(post.get("id", ""))
    except ValueError:
        report_id = uuid7()
    try:
        severity = int(post.get("severity", ""))
    except ValueError:
        raise InvalidInput(
            "incident_severity_unknown", _("Severity must be 1 (critical) to 4 (low).")
        ) from None
    try:
        site_id = uuid.UUID(post["site"]) if post.get("site") else None
    except ValueError:
        raise InvalidInput("site_unknown", _("No such site in your scope.")) from None
    photo = request.FILES.get("photo")
    return services.report_incident(
        actor=actor,
        id=report_id,
        category=post.get("category", ""),
        severity=severity,
        site_id=site_id,
        latitude=_coordinate(post.get("latitude", "")),
        longitude=_coordinate(post.get("longitude", "")),
        description=post.get("description", "")[:4000],
        photo=photo,
        photo_size=photo.size if photo is not None else None,
    )


@login_required
def report(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            result = _report_from_form(request, user)
        except SiagaError as exc:
            error, status = str(exc.message), exc.status
        else:
            if result.incident.site is not None:
                chooser.remember(user, "report", result.incident.site)
            messages.success(
                request, _("Sent ✓ %(reference)s") % {"reference": result.incident.reference}
            )
            if result.photo_refused is not None:
                messages.warning(
                    request,
                    _("The photo was refused and the report was sent without it: %(reason)s")
                    % {"reason": result.photo_refused.message},
                )
            return redirect("incidents:detail", incident_id=result.incident.pk)
    # A search without script comes back as a GET carrying what was typed so far.
    posted = request.POST if request.method == "POST" else request.GET
    context = {
        "categories": [
            {
                "value": value,
                "label": label,
                "default_severity": CATEGORY_SEVERITY[value],
            }
            for value, label in Category.choices
        ],
        "severities": _severities(),
        "chooser": _place_chooser(request, user, str(posted.get("site", ""))),
        "report_id": uuid7(),
        "error": error,
        "posted": posted,
        "may_report": scope_roots(user, Action.REPORT_INCIDENT) != frozenset(),
    }
    return render(request, "incidents/report.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# Waiting for my acknowledgement, and the statistics


@login_required
def acknowledgements(request: HttpRequest) -> HttpResponse:
    incidents = list(
        selectors.awaiting_my_acknowledgement(actor_of(request))
        .select_related("zone")
        .order_by("reported_at")
    )
    return render(request, "incidents/acknowledgements.html", {"incidents": incidents})


@login_required
def stats(request: HttpRequest) -> HttpResponse:
    incidents = _visible_incidents(request)
    region = request.GET.get("region", "").strip()
    if region and is_region_code(region):
        incidents = incidents.filter(subtree_q("region__code", [region]))
    else:
        region = ""
    figures = selectors.incident_stats(incidents)
    most = max([row["total"] for row in figures["by_category"] + figures["by_site"]], default=0)
    slowest = max([row["minutes_to_acknowledge"] or 0 for row in figures["by_category"]], default=0)
    for row in figures["by_category"]:
        row["width"] = _percent(row["total"], most)
        row["open_width"] = _percent(row["open"], most)
        row["ack_width"] = _percent(row["minutes_to_acknowledge"] or 0, slowest)
    for row in figures["by_site"]:
        row["width"] = _percent(row["total"], most)
        row["open_width"] = _percent(row["open"], most)
    return render(request, "incidents/stats.html", {"stats": figures, "region": region})


def _percent(value: float, most: float) -> str:
    # A dot, whatever the language: this goes into a CSS width.
    return f"{(100 * value / most) if most else 0:.1f}"

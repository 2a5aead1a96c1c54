"""The site safety page (``/keselamatan/<site>/``): panels that apps register, the site's
active alarms first; and the equipment's own pages: add an item, one item with its service
history, record a service. Thin: every change is one call to ``services``, whose refusals
come back to the page as an alert with their code, never as a 500."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.alarms.choices import SEVERITY_RANK
from siaga.alarms.models import Alarm
from siaga.core.errors import NotFound, SiagaError
from siaga.core.ids import uuid7
from siaga.safety import panels, selectors, services
from siaga.safety.choices import EquipmentState
from siaga.safety.forms import ChangeForm, EquipmentForm, ServiceForm
from siaga.safety.models import Equipment
from siaga.safety.rules import site_today
from siaga.sites import chooser
from siaga.sites.models import Site

PURPOSE = "safety"
SEVERITY_ORDER = Case(
    *[When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()],
    default=Value(9),
    output_field=IntegerField(),
)


def _site(request: HttpRequest, site_id: uuid.UUID) -> Site:
    site = (
        Site.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("region")
        .filter(pk=site_id)
        .first()
    )
    if site is None:
        raise Http404
    return site


def _item(request: HttpRequest, equipment_id: uuid.UUID) -> Equipment:
    try:
        return services.visible_equipment(actor_of(request), equipment_id)
    except NotFound as exc:
        raise Http404 from exc


# ---------------------------------------------------------------------------------------------
# Choosing a site, and the page


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The place chooser; a chosen (or remembered) site opens its page."""
    user = actor_of(request)
    raw = request.GET.get("site", "")
    site = None
    if raw:
        try:
            site = chooser.scope(user, PURPOSE).filter(pk=uuid.UUID(raw)).first()
        except ValueError:
            site = None
        if site is None:
            raise Http404
    elif "site_q" not in request.GET and "choose" not in request.GET:
        site = chooser.remembered(user, PURPOSE)
    if site is not None:
        return redirect("safety:site", site_id=site.pk)
    context = {
        "has_sites": chooser.scope(user, PURPOSE).exists(),
        "chooser": chooser.build(request, purpose=PURPOSE),
    }
    return render(request, "safety/index.html", context)


@login_required
@require_GET
def site_page(request: HttpRequest, site_id: uuid.UUID) -> HttpResponse:
    site = _site(request, site_id)
    chooser.remember(actor_of(request), PURPOSE, site)
    context = {"site": site, "panels": panels.render_all(site, request)}
    return render(request, "safety/site.html", context)


@login_required
@require_GET
def panel(request: HttpRequest, site_id: uuid.UUID, name: str) -> HttpResponse:
    """One panel alone, for the page's htmx refresh."""
    site = _site(request, site_id)
    found = panels.PANELS.get(name)
    if found is None:
        raise Http404
    shown = panels.render_panel(found, site, request)
    return render(request, "safety/_panel.html", {"shown": shown, "site": site, "name": name})


# ---------------------------------------------------------------------------------------------
# This app's own panels


def alarms_panel(site: Site, user: Any) -> dict[str, Any]:
    """The site's active alarms, whatever raised them, the worst first."""
    active = (
        Alarm.objects.filter(site=site, active=True)
        .select_related("zone", "incident")
        .annotate(severity_order=SEVERITY_ORDER)
        .order_by("severity_order", "-last_raised_at")
    )
    return {
        "alarms": list(active[:50]),
        "more": max(0, active.count() - 50),
        "can_respond": user_can(user, Action.RESPOND_INCIDENT, site.region_id),
    }


def equipment_panel(site: Site, user: Any) -> dict[str, Any]:
    """Overdue, due within ``SIAGA_SAFETY_DUE_SOON_DAYS``, and every item per zone."""
    today = site_today(site)
    within = selectors.due_window()
    items = list(
        Equipment.objects.filter(site=site)
        .exclude(state=EquipmentState.REMOVED)
        .select_related("zone", "responsible", "site")
        .order_by("kind", "serial", "created_at")
    )
    rows = [selectors.row(item, today, within) for item in items]
    can_manage = user_can(user, Action.MANAGE_SAFETY_EQUIPMENT, site.region_id)
    can_service = user_can(user, Action.SERVICE_SAFETY_EQUIPMENT, site.region_id)
    urgent = sorted(
        (r for r in rows if r.overdue or r.due_soon),
        key=lambda r: (not r.overdue, r.first.days if r.first else 0),
    )
    if can_service:
        for r in urgent:
            r.service_form = _service_form(r.item, today)
    return {
        "today": today,
        "within": within,
        "overdue": [r for r in urgent if r.overdue],
        "due_soon": [r for r in urgent if r.due_soon],
        "zones": selectors.by_zone(items, today, within),
        "count": len(items),
        "can_manage": can_manage,
        "can_service": can_service,
        "add_form": _equipment_form(site) if can_manage else None,
    }


def _equipment_form(site: Site, data: Any = None) -> EquipmentForm:
    return EquipmentForm(
        data,
        initial={"id": uuid7()},
        zones=site.zones.order_by("name"),
        people=selectors.eligible_responsibles(site),
        prefix="add",
    )


def _service_form(item: Equipment, today: Any, data: Any = None) -> ServiceForm:
    return ServiceForm(
        data,
        initial={"id": uuid7(), "performed_on": today, "work": "inspection"},
        prefix="service",
        auto_id=f"id_service_{item.pk}_%s" if data is None else "id_%s",
    )


# ---------------------------------------------------------------------------------------------
# Adding an item, one item, a service


def _refused(request: HttpRequest, exc: SiagaError) -> dict[str, Any]:
    return {"error": str(exc.message), "error_code": exc.code, "error_detail": exc.detail}


@login_required
def add(request: HttpRequest, site_id: uuid.UUID) -> HttpResponse:
    site = _site(request, site_id)
    user = actor_of(request)
    if not user_can(user, Action.MANAGE_SAFETY_EQUIPMENT, site.region_id):
        raise PermissionDenied
    form = _equipment_form(site, request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"site": site, "form": form}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 422
        else:
            data = form.cleaned_data
            try:
                result = services.add_equipment(
                    actor=user,
                    id=data["id"] or None,
                    site_id=site.pk,
                    zone_id=uuid.UUID(data["zone"]) if data["zone"] else None,
                    kind=data["kind"],
                    variant=data["variant"],
                    size_kg=data["size_kg"],
                    serial=data["serial"],
                    location=data["location"],
                    installed_on=data["installed_on"],
                    expiry_on=data["expiry_on"],
                    next_service_on=data["next_service_on"],
                    responsible_id=data["responsible"],
                )
            except SiagaError as exc:
                context.update(_refused(request, exc))
                status = exc.status
            else:
                messages.success(
                    request,
                    _("Added: %(item)s.") % {"item": result.obj.display}
                    if result.created
                    else _("Already recorded: %(item)s.") % {"item": result.obj.display},
                )
                return redirect("safety:site", site_id=site.pk)
    return render(request, "safety/add.html", context, status=status)


def _detail_context(request: HttpRequest, item: Equipment) -> dict[str, Any]:
    user = actor_of(request)
    today = site_today(item.site)
    can_manage = user_can(user, Action.MANAGE_SAFETY_EQUIPMENT, item.site.region_id)
    can_service = user_can(user, Action.SERVICE_SAFETY_EQUIPMENT, item.site.region_id)
    removed = item.state == EquipmentState.REMOVED
    return {
        "item": item,
        "site": item.site,
        "row": selectors.row(item, today, selectors.due_window()),
        "within": selectors.due_window(),
        "services": item.services.select_related("recorded_by").order_by(
            "-performed_on", "-created_at"
        )[:100],
        "alarm": Alarm.objects.filter(
            source="safety", key=services.alarm_key(item), active=True
        ).first(),
        "can_manage": can_manage and not removed,
        "can_service": can_service and not removed,
        "change_form": ChangeForm(
            initial={
                "state": item.state,
                "zone": str(item.zone_id) if item.zone_id else "",
                "location": item.location,
                "expiry_on": item.expiry_on,
                "next_service_on": item.next_service_on,
                "responsible": item.responsible_id,
            },
            zones=item.site.zones.order_by("name"),
            people=selectors.eligible_responsibles(item.site),
            prefix="change",
        ),
        "service_form": _service_form(item, today),
    }


@login_required
def equipment(request: HttpRequest, equipment_id: uuid.UUID) -> HttpResponse:
    """One item and its history; a POST changes it (state, dates, zone, responsible)."""
    item = _item(request, equipment_id)
    user = actor_of(request)
    status = 200
    context = _detail_context(request, item)
    if request.method == "POST":
        form = ChangeForm(
            request.POST,
            zones=item.site.zones.order_by("name"),
            people=selectors.eligible_responsibles(item.site),
            prefix="change",
        )
        context["change_form"] = form
        if not form.is_valid():
            status = 422
        else:
            data = form.cleaned_data
            changes = {
                "state": data["state"],
                "zone": uuid.UUID(data["zone"]) if data["zone"] else None,
                "location": data["location"],
                "expiry_on": data["expiry_on"],
                "next_service_on": data["next_service_on"],
                "responsible": data["responsible"],
            }
            try:
                services.change_equipment(actor=user, equipment_id=item.pk, changes=changes)
            except NotFound as exc:
                raise Http404 from exc
            except SiagaError as exc:
                context.update(_refused(request, exc))
                status = exc.status
            else:
                messages.success(request, _("Saved."))
                return redirect("safety:equipment", equipment_id=item.pk)
    return render(request, "safety/equipment.html", context, status=status)


@login_required
def service(request: HttpRequest, equipment_id: uuid.UUID) -> HttpResponse:
    """Record a service (GET shows the form alone, as a phone opens it)."""
    item = _item(request, equipment_id)
    user = actor_of(request)
    context = _detail_context(request, item)
    status = 200
    if request.method == "POST":
        form = ServiceForm(request.POST, prefix="service")
        context["service_form"] = form
        if not form.is_valid():
            status = 422
        else:
            data = form.cleaned_data
            try:
                result = services.record_service(
                    actor=user,
                    equipment_id=item.pk,
                    id=data["id"] or None,
                    performed_on=data["performed_on"],
                    work=data["work"],
                    notes=data["notes"],
                    performed_by=data["performed_by"],
                    next_service_on=data["next_service_on"],
                    expiry_on=data["expiry_on"],
                )
            except NotFound as exc:
                raise Http404 from exc
            except SiagaError as exc:
                context.update(_refused(request, exc))
                status = exc.status
            else:
                messages.success(
                    request,
                    _("Service recorded for %(item)s.") % {"item": item.display}
                    if result.created
                    else _("This service was already recorded."),
                )
                if request.POST.get("next") == "site":
                    return redirect("safety:site", site_id=item.site_id)
                return redirect("safety:equipment", equipment_id=item.pk)
    return render(request, "safety/service.html", context, status=status)


app_name = "safety"
urlpatterns = [
    path("", index, name="index"),
    path("<uuid:site_id>/", site_page, name="site"),
    path("<uuid:site_id>/panel/<slug:name>/", panel, name="panel"),
    path("<uuid:site_id>/peralatan/baru/", add, name="add"),
    path("peralatan/<uuid:equipment_id>/", equipment, name="equipment"),
    path("peralatan/<uuid:equipment_id>/servis/", service, name="service"),
]

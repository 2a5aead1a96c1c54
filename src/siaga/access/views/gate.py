"""The guard's and the host's pages at the gate, made for a phone: the gate home, a walk-in's
registration, one visit with its decision and its check-in, the visits waiting for my decision,
who is inside now, and the badge scanner.

Thin: reads go through the scoped managers and ``selectors``; every change is one call to
``services``, whose refusals come back to the page as an alert, never as a 500. Times are shown
in the site's own time zone (WIB, WITA or WIT)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from siaga.access import selectors, services
from siaga.access.choices import PENDING_STATES, ItemKind, Officer, Purpose, VisitState
from siaga.access.models import Presence, StandingPass, Visit, Visitor, record_region
from siaga.accounts.auth import actor_of
from siaga.accounts.models import Membership, User
from siaga.accounts.nik import validate_nik, warning_message
from siaga.accounts.permissions import ROLE_ACTIONS, Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core.errors import InvalidInput, NotFound, SiagaError
from siaga.core.ids import uuid7
from siaga.core.validators import since_param
from siaga.incidents.photos import decode_photo
from siaga.regions.codes import covering_codes
from siaga.regions.timezones import time_zone_of, zone_abbreviation
from siaga.sites import chooser
from siaga.sites.models import Site, Zone

# Who may host a guest: a role that records logistics or approves access (services._may_host).
HOST_ROLES = [
    role
    for role, actions in ROLE_ACTIONS.items()
    if Action.RECORD_LOGISTICS in actions or Action.APPROVE_ACCESS in actions
]
WALK_IN_HOURS = 2
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
BADGE_PREFIX = "SIAGA-PASS:"
PASS_REFUSALS = {
    "revoked": gettext_lazy("This pass was revoked."),
    "outside_validity": gettext_lazy("This pass is not valid today."),
    "outside_hours": gettext_lazy("This pass is not valid at this hour."),
    "outside_days": gettext_lazy("This pass is not valid on this day of the week."),
}
# Items a guard sees at a glance; the rest are one tap further.
COMMON_ITEMS = (ItemKind.BAG, ItemKind.PHONE, ItemKind.LAPTOP, ItemKind.CAMERA)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _sites(user: User) -> QuerySet[Site]:
    return Site.objects.for_user(user, Action.VIEW).filter(active=True).order_by("name")


def _site_from(raw: str, sites: QuerySet[Site]) -> Site | None:
    """The site the address names (404 when it is not one of the person's), else the only
    one they have, else none: the page asks."""
    if raw:
        try:
            site_id = uuid.UUID(raw)
        except ValueError:
            raise Http404 from None
        site = sites.filter(pk=site_id).first()
        if site is None:
            raise Http404
        return site
    few = list(sites[:2])
    return few[0] if len(few) == 1 else None


def _render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    site: Site | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render in the site's own time zone, so the guard reads the clock on the wall."""
    tz = time_zone_of(site.region_id) if site is not None else timezone.get_current_timezone()
    with timezone.override(tz):
        context = {**context, "tz_label": zone_abbreviation(site.region_id) if site else ""}
        return render(request, template, context, status=status)


def _url_or_none(name: str, **kwargs: Any) -> str | None:
    """A link to a page of ``records`` (the log, the roll call): shown once it exists."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _back_to(request: HttpRequest, fallback: str) -> HttpResponse:
    """Where the form asked to go back to (this site only), else ``fallback``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _uuid(raw: str | None, code: str, message: str) -> uuid.UUID | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput(code, message) from None


def _client_id(post: Mapping[str, Any]) -> uuid.UUID:
    """The id the page chose for this write; a form without one gets a new one."""
    try:
        return uuid.UUID(str(post.get("id", "")))
    except ValueError:
        return uuid7()


def _local(site: Site, at: dt.datetime) -> dt.datetime:
    return services.local_time(site, at)


def _window(visit: Visit) -> str:
    """ "31 Jan 10:00–12:00 WIB" in the site's time zone (lists may mix sites)."""
    start = _local(visit.site, visit.planned_start)
    end = _local(visit.site, visit.planned_end)
    day = date_format(start, "j M")
    if end.date() == start.date():
        until = time_format(end, "H:i")
    else:
        until = f"{date_format(end, 'j M')} {time_format(end, 'H:i')}"
    return f"{day} {time_format(start, 'H:i')}–{until} {zone_abbreviation(visit.site.region_id)}"


def _today(site: Site) -> tuple[dt.datetime, dt.datetime]:
    local = _local(site, timezone.now())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def _may_decide_anywhere(user: User) -> bool:
    return any(
        scope_roots(user, action) != frozenset()
        for action in (Action.RECORD_LOGISTICS, Action.APPROVE_ACCESS)
    )


def _photo_url(visitor: Visitor) -> str | None:
    if not visitor.photo_sha256:
        return None
    return reverse("api:get_photo", kwargs={"visitor_id": visitor.pk})


def _people_inside(site: Site, *, besides: uuid.UUID | None = None) -> list[Presence]:
    """Who may go into a zone together with someone: everyone inside the site now."""
    people = Presence.objects.filter(site=site).select_related("visitor", "zone")
    if besides is not None:
        people = people.exclude(visitor_id=besides)
    return list(people.order_by("visitor__name")[:200])


def _zone_choices(zones: Iterable[Zone]) -> list[dict[str, Any]]:
    return [
        {"zone": zone, "guarded": services.needs_two_persons(zone)}
        for zone in sorted(zones, key=lambda z: z.name)
    ]


def _items(post: Mapping[str, Any]) -> list[services.Item]:
    items = []
    for kind in ItemKind.values:
        raw = str(post.get(f"item_{kind}", "")).strip()
        if raw in ("", "0"):
            continue
        try:
            count = int(raw)
        except ValueError:
            raise InvalidInput(
                "item_count_invalid", _("An item count is 1 to 999."), detail={"kind": kind}
            ) from None
        items.append(services.Item(kind=kind, count=count))
    return items


def _item_fields() -> list[dict[str, Any]]:
    return [
        {"kind": value, "label": label, "common": value in COMMON_ITEMS}
        for value, label in ItemKind.choices
    ]


# ---------------------------------------------------------------------------------------------
# The gate home


@login_required
@require_GET
def gate_home(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    sites = _sites(user)
    raw = request.GET.get("site", "")
    site = _site_from(raw, sites)
    if site is not None and raw:
        chooser.remember(user, "gate", site)
    elif site is None and "site_q" not in request.GET and "choose" not in request.GET:
        # The guard's post, remembered: the gate page opens where they stand.
        site = chooser.remembered(user, "gate")
    waiting: list[Visit] = []
    if _may_decide_anywhere(user):
        waiting = list(
            services.approvals_waiting(user)
            .select_related("visitor", "site", "host")
            .order_by("planned_start")[:50]
        )
    log_url = _url_or_none("access:log")
    context: dict[str, Any] = {
        "has_sites": sites.exists(),
        "site": site,
        "chooser": chooser.build(request, purpose="gate") if site is None else None,
        "waiting": [(visit, _window(visit)) for visit in waiting],
        # Reading the log needs no gate: Bawaslu reads it over the whole scope.
        "log_url": log_url,
    }
    if site is not None:
        start, end = _today(site)
        expected = (
            Visit.objects.for_user(user, Action.VIEW)
            .filter(
                site=site,
                state__in=PENDING_STATES,
                planned_start__lt=end,
                planned_end__gt=start,
            )
            .select_related("visitor", "host", "site")
            .order_by("planned_start")[:100]
        )
        context.update(
            {
                "expected": [(visit, _window(visit)) for visit in expected],
                "inside_count": Presence.objects.filter(site=site).count(),
                "can_operate": user_can(user, Action.OPERATE_GATE, site.region_id),
                "roll_call_url": _url_or_none("access:roll_call", site_id=site.pk),
            }
        )
    return _render(request, "access/gate/home.html", context, site=site)


# ---------------------------------------------------------------------------------------------
# A walk-in


def _hosts(site: Site) -> list[tuple[int, str]]:
    """People who may host a guest at ``site``: an active account with a hosting role in a unit
    whose region covers the site's."""
    covering = covering_codes(site.region_id)
    memberships = (
        Membership.objects.filter(
            active=True,
            user__is_active=True,
            role__in=HOST_ROLES,
            unit__region_id__in=covering,
        )
        .select_related("user", "unit")
        .order_by("user__first_name", "user__username", "unit__name")
    )
    hosts: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    for membership in memberships:
        names[membership.user_id] = membership.user.display_name
        hosts.setdefault(membership.user_id, []).append(
            f"{membership.get_role_display()}, {membership.unit.name}"
        )
    return [(pk, f"{names[pk]} · {'; '.join(roles)}") for pk, roles in hosts.items()]


class WalkInForm(forms.Form):
    """The shape of a walk-in; the rules are the service's."""

    id = forms.UUIDField(widget=forms.HiddenInput, required=False)
    # No max_length: a browser would cut a 17-digit typo to a wrong 16-digit NIK without a
    # word; the one NIK check refuses it (nik_length) instead.
    nik = forms.CharField(
        label=gettext_lazy("NIK"),
        help_text=gettext_lazy("16 digits, from the KTP."),
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "placeholder": "1608…",
            }
        ),
    )
    name = forms.CharField(
        label=gettext_lazy("Name, as on the KTP"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )
    organisation = forms.CharField(
        label=gettext_lazy("Organisation"), max_length=150, required=False
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    photo = forms.FileField(
        label=gettext_lazy("Photo of the visitor"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    purpose = forms.ChoiceField(
        label=gettext_lazy("Purpose"), choices=[("", "—"), *Purpose.choices]
    )
    purpose_text = forms.CharField(
        label=gettext_lazy("Purpose, in a few words"), max_length=300, required=False
    )
    zones = forms.MultipleChoiceField(
        label=gettext_lazy("Zones to enter"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None: the grounds only."),
    )
    host = forms.TypedChoiceField(label=gettext_lazy("Host"), coerce=int)
    planned_end = forms.DateTimeField(
        label=gettext_lazy("Leaves by"),
        input_formats=[LOCAL_INPUT],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
    )
    confirm_correction = forms.BooleanField(
        label=gettext_lazy(
            "The KTP says what I typed: correct the record (its old value is kept)."
        ),
        required=False,
    )
    vehicle_plate = forms.CharField(
        label=gettext_lazy("Vehicle plate"),
        max_length=15,
        required=False,
        widget=forms.TextInput(
            attrs={
                "autocapitalize": "characters",
                "autocomplete": "off",
                "placeholder": "BG 1234 AB",
            }
        ),
    )

    def __init__(
        self,
        *args: Any,
        zones: list[Zone],
        hosts: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.zone_list = zones
        self.nik_warnings: list[dict[str, str]] = []
        # While the NIK is typed, the gate's look-up says whom this region knows by it.
        self.fields["nik"].widget.attrs.update(
            {
                "hx-post": reverse("access:walk_in_lookup"),
                "hx-trigger": "input changed delay:400ms",
                "hx-target": "#walk-in-known",
                "hx-swap": "outerHTML",
                "hx-include": "#walk-in-form [name=site]",
                "hx-sync": "this:replace",
            }
        )
        self.fields["zones"].choices = [(str(z.pk), z.name) for z in zones]  # type: ignore[attr-defined]
        self.fields["host"].choices = [("", "—"), *hosts]  # type: ignore[attr-defined]
        for name, bound in self.fields.items():
            widget = bound.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                widget.attrs["class"] = "btn-check"
            elif isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select form-select-lg"
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs["class"] = "form-control form-control-lg"
            widget.attrs.setdefault("id", f"walk-in-{name.replace('_', '-')}")

    def clean_nik(self) -> str:
        # The one NIK check every form and the API use: the same message as the service's.
        try:
            checked = validate_nik(self.cleaned_data["nik"])
        except SiagaError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from None
        self.nik_warnings = _nik_warnings(checked.warnings)
        return checked.nik

    def zone_rows(self) -> list[dict[str, Any]]:
        chosen = set(self["zones"].value() or [])
        return [
            {**row, "checked": str(row["zone"].pk) in chosen}
            for row in _zone_choices(self.zone_list)
        ]

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


def _nik_warnings(codes: Iterable[str]) -> list[dict[str, str]]:
    """The NIK check's warnings (accepted, but worth a look at the KTP), in words."""
    return [{"code": code, "text": warning_message(code)} for code in codes]


def _known_here(user: User, site: Site, nik: str) -> tuple[Visitor | None, str]:
    """The site's region's record of this NIK through the gate's look-up (throttled, and
    recorded as a web look-up), or none; with the look-up's refusal code, if any."""
    try:
        found = services.lookup_visitor(actor=user, nik=nik, channel="web")
    except NotFound:
        return None, "visitor_not_known_here"
    except SiagaError as exc:
        return None, exc.code
    if found.region != record_region(site.region_id):
        return None, "visitor_not_known_here"
    return found, "found"


@login_required
@require_POST
def walk_in_lookup(request: HttpRequest) -> HttpResponse:
    """While the guard types a NIK: "known here as …" (name, organisation) to confirm or
    correct, the NIK's warnings, or why the NIK is not one. An htmx fragment, always 200 so
    that htmx shows it; ``data-code`` says which. A NIK still being typed (under 16
    characters) is not looked up, so the look-up log holds only real look-ups."""
    user = actor_of(request)
    site = _site_from(request.POST.get("site", ""), _sites(user))
    if site is None:
        raise Http404
    if not user_can(user, Action.OPERATE_GATE, site.region_id):
        return HttpResponse(_("You do not guard this site's gate."), status=403)
    raw = request.POST.get("nik", "").strip()
    context: dict[str, Any] = {"code": "", "known": None, "warnings": [], "error": ""}
    if len(raw) >= 16:
        try:
            checked = validate_nik(raw)
        except SiagaError as exc:
            context.update(code=exc.code, error=str(exc.message))
        else:
            known, code = _known_here(user, site, checked.nik)
            context.update(code=code, known=known, warnings=_nik_warnings(checked.warnings))
            if code == "lookup_throttled":
                context["error"] = _("Too many look-ups by NIK; wait a minute and try again.")
    return render(request, "access/gate/_known_as.html", context)


def _field_of(exc: SiagaError) -> str | None:
    detail = exc.detail
    return str(detail.get("field")) if isinstance(detail, dict) and detail.get("field") else None


def _check_photo(photo: UploadedFile) -> None:
    """Refuse a photo before anything is written, so that a bad one leaves no visit behind."""
    try:
        decode_photo(photo, size=photo.size, max_bytes=settings.VISITOR_PHOTO_MAX_BYTES)
    except SiagaError as exc:
        raise type(exc)(exc.code, exc.message, detail={"field": "photo"}) from None
    photo.seek(0)


@login_required
def walk_in(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    sites = _sites(user)
    site = _site_from(request.POST.get("site") or request.GET.get("site", ""), sites)
    if site is None and "site_q" not in request.GET:
        site = chooser.remembered(user, "gate")
    if site is None:
        context = {
            "has_sites": sites.exists(),
            "chooser": chooser.build(request, purpose="walk_in"),
        }
        return _render(request, "access/gate/walk_in.html", context)
    zones = list(Zone.objects.filter(site=site).order_by("name"))
    hosts = _hosts(site)
    tz = time_zone_of(site.region_id)
    error = ""
    status = 200
    known_as: dict[str, Any] = {}
    if request.method == "POST":
        form = WalkInForm(request.POST, request.FILES, zones=zones, hosts=hosts)
        with timezone.override(tz):  # the time typed is the site's
            valid = form.is_valid()
        if not valid:
            error, status = _("Check the marked fields."), 422
        else:
            data = form.cleaned_data
            photo = request.FILES.get("photo")
            try:
                if photo is not None:
                    _check_photo(photo)
                result = services.register_visit(
                    actor=user,
                    id=data["id"] or uuid7(),
                    person=services.PersonData(
                        nik=data["nik"],
                        name=data["name"],
                        organisation=data["organisation"],
                        phone=data["phone"],
                    ),
                    site_id=site.pk,
                    zone_ids=[uuid.UUID(z) for z in data["zones"]],
                    purpose=data["purpose"],
                    purpose_text=data["purpose_text"],
                    host_id=data["host"],
                    planned_end=data["planned_end"],
                    walk_in=True,
                    vehicle_plate=data["vehicle_plate"],
                    # A name or organisation other than the record's is a correction of the
                    # record: only once the guard has confirmed it against the KTP.
                    confirm_record_change=data["confirm_correction"],
                )
            except SiagaError as exc:
                error, status = str(exc.message), exc.status
                if exc.code == "visitor_record_differs":
                    known, _code = _known_here(user, site, data["nik"])
                    known_as = {"code": "differs", "known": known, "confirm": True}
                else:
                    name = _field_of(exc)
                    if name in form.fields and name not in form.errors:
                        form.add_error(name, error)
            else:
                visit = result.obj
                messages.success(
                    request,
                    _("Registered %(name)s (%(reference)s): waiting for the host's decision.")
                    % {"name": visit.visitor.name, "reference": visit.reference},
                )
                for warning in form.nik_warnings:
                    messages.warning(request, warning["text"])
                # A resend of the same form adds the photo only if the first did not.
                if photo is not None and (result.created or not visit.visitor.photo_sha256):
                    try:
                        services.set_visitor_photo(
                            actor=user, visitor_id=visit.visitor_id, photo=photo, size=photo.size
                        )
                    except SiagaError as exc:
                        messages.warning(
                            request,
                            _("The photo was not kept: %(reason)s") % {"reason": exc.message},
                        )
                return redirect("access:visit", visit_id=visit.pk)
        nik = form.cleaned_data.get("nik") if hasattr(form, "cleaned_data") else None
        if not known_as and nik:
            # The page comes back as it was sent: with whom this region knows by the NIK, so
            # the guard still confirms or corrects the name against the KTP.
            known, code = _known_here(user, site, nik)
            known_as = {"code": code, "known": known}
        if request.FILES.get("photo") is not None:
            # A browser never fills a file field in again.
            again = _("Choose the photo again: a browser does not keep it after a refusal.")
            error = f"{error} {again}"
        form.mark_invalid()
    else:
        leaves = timezone.localtime(
            timezone.now() + dt.timedelta(hours=WALK_IN_HOURS), tz
        ).strftime(LOCAL_INPUT)
        form = WalkInForm(initial={"id": uuid7(), "planned_end": leaves}, zones=zones, hosts=hosts)
    context = {
        "site": site,
        "form": form,
        "error": error,
        "known_as": known_as,
        "nik_warnings": form.nik_warnings,
        "may_register": user_can(user, Action.OPERATE_GATE, site.region_id),
    }
    return _render(request, "access/gate/walk_in.html", context, site=site, status=status)


# ---------------------------------------------------------------------------------------------
# One visit: its decision, its check-in and check-out


def _visible_visits(user: User) -> QuerySet[Visit]:
    return Visit.objects.for_user(user, Action.VIEW)


def _poll_stamp(state: str, after_hours_approved: bool) -> str:
    """What the waiting page compares: the state and whether the after-hours approval came, so
    that the guard's page updates on the host's decision and on the commissioner's."""
    return f"{state}.{'ah' if after_hours_approved else 'no'}"


def _missing_lines(visit: Visit, missing: list[str]) -> list[dict[str, str]]:
    """Each approval the visit still lacks, and who can give it, in words."""
    rules = services.rules_of(visit.site)
    lines = []
    for code in missing:
        if code == services.MISSING_DECISION:
            text = _(
                "Waiting for the host's decision: %(host)s, or a KPU commissioner or the "
                "Kapolres of the region."
            ) % {"host": visit.host.display_name}
        elif code == services.MISSING_AFTER_HOURS:
            text = _(
                "Waiting for a commissioner's after-hours approval: a KPU commissioner or the "
                "Kapolres of the region must approve before the guest may enter."
            )
        else:
            text = _(
                "From %(start)s the visit needs a commissioner's after-hours approval too: a "
                "KPU commissioner or the Kapolres of the region can give it."
            ) % {"start": rules.after_hours_start.strftime("%H:%M")}
        lines.append({"code": code, "text": text})
    return lines


def _posted_check_in(post: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the guard typed into a refused check-in, to fill the form in again."""
    if post is None:
        return {}
    getlist = getattr(post, "getlist", None)
    return {
        "id": str(post.get("id", "")),
        "zone": str(post.get("zone", "")),
        "note": str(post.get("note", ""))[:500],
        "vehicle_plate": str(post.get("vehicle_plate", ""))[:15],
        "companions": [str(c) for c in getlist("companions")] if getlist else [],
        "items": {kind: str(post.get(f"item_{kind}", ""))[:4] for kind in ItemKind.values},
    }


def _visit_page(
    request: HttpRequest,
    visit_id: uuid.UUID,
    *,
    posted: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The visit's page; after a refused write, with the refusal and what was typed."""
    user = actor_of(request)
    visit = (
        _visible_visits(user)
        .select_related(
            "visitor",
            "site__access_rules",
            "host",
            "registered_by",
            "decided_by",
            "after_hours_approved_by",
        )
        .prefetch_related("zones")
        .filter(pk=visit_id)
        .first()
    )
    if visit is None:
        raise Http404
    site = visit.site
    region = site.region_id
    commissioner = user_can(user, Action.APPROVE_ACCESS, region)
    decider = visit.host_id == user.pk or commissioner
    can_operate = user_can(user, Action.OPERATE_GATE, region)
    presence = (
        Presence.objects.filter(visitor_id=visit.visitor_id, visit=visit)
        .select_related("zone")
        .first()
    )
    now = timezone.now()
    missing = services.approvals_missing(visit, now=now)
    blocking = {services.MISSING_DECISION, services.MISSING_AFTER_HOURS} & set(missing)
    # Offered only when the gate would let the guest in now: no approval missing, not over.
    may_enter = (
        can_operate
        and visit.state in (VisitState.APPROVED, VisitState.CHECKED_IN)
        and visit.planned_end > now
        and not blocking
    )
    # While an approval is still missing the form is there to fill in, its button off: what
    # the guard typed stays through a refusal and through the page's update on each decision.
    show_form = may_enter or (
        can_operate
        and visit.state in (VisitState.REQUESTED, VisitState.APPROVED)
        and visit.planned_end > now
    )
    again = _posted_check_in(posted)
    items = _item_fields()
    for item in items:
        item["value"] = again.get("items", {}).get(item["kind"], "")
    context = {
        "visit": visit,
        "site": site,
        "photo_url": _photo_url(visit.visitor),
        "zones": _zone_choices(visit.zones.all()),
        "presence": presence,
        "can_approve": decider and visit.state == VisitState.REQUESTED,
        "can_deny": decider and visit.state in PENDING_STATES,
        "can_approve_after_hours": commissioner
        and visit.state in (VisitState.APPROVED, VisitState.CHECKED_IN)
        and visit.after_hours_approved_at is None,
        "may_enter": may_enter,
        "show_form": show_form,
        "can_check_out": can_operate and presence is not None,
        "missing": _missing_lines(visit, missing),
        "waiting": bool(missing),
        "poll_stamp": _poll_stamp(visit.state, visit.after_hours_approved_at is not None),
        "expired": visit.state in PENDING_STATES and visit.planned_end <= now,
        "companions": _people_inside(site, besides=visit.visitor_id) if show_form else [],
        "items": items,
        "events": list(visit.gate_events.select_related("zone", "from_zone", "guard")),
        "check_in_id": again.get("id") or uuid7(),
        "check_out_id": uuid7(),
        "posted": again,
        "error": error,
        "roll_call_url": _url_or_none("access:roll_call", site_id=site.pk),
    }
    return _render(request, "access/gate/visit.html", context, site=site, status=status)


@login_required
@require_GET
def visit_detail(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    return _visit_page(request, visit_id)


@login_required
@require_POST
def visit_wait(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    """The waiting page asks every few seconds whether a decision has come (the host's or the
    commissioner's), sending what the guard has typed into the check-in form so far (a POST: a
    note or a plate never goes in a URL). Nothing new: 204. A decision: the page again, filled
    in as it was, swapped in place of the old one."""
    row = (
        _visible_visits(actor_of(request))
        .filter(pk=visit_id)
        .values_list("state", "after_hours_approved_at")
        .first()
    )
    if row is None:
        raise Http404
    if _poll_stamp(row[0], row[1] is not None) == request.POST.get("since", ""):
        return HttpResponse(status=204)
    typed = request.POST if request.POST.get("visit") == str(visit_id) else None
    response = _visit_page(request, visit_id, posted=typed)
    response["HX-Retarget"] = "#visit-page"
    response["HX-Reswap"] = "outerHTML"
    response["HX-Reselect"] = "#visit-page"
    return response


def _approved_message(visit: Visit) -> str:
    missing = services.approvals_missing(visit)
    if services.MISSING_AFTER_HOURS in missing:
        return _(
            "Approved. Still missing: a commissioner's after-hours approval (a KPU commissioner "
            "or the Kapolres); the guard may not let the guest in until then."
        )
    if services.MISSING_AFTER_HOURS_LATER in missing:
        return _(
            "Approved: the guard can let the guest in now. After hours, entry needs a "
            "commissioner's approval too (a KPU commissioner or the Kapolres)."
        )
    return _("Approved: the guard can let the guest in.")


def _decide(
    request: HttpRequest,
    visit_id: uuid.UUID,
    change: Callable[[User], Visit],
    done: Callable[[Visit], str],
) -> HttpResponse:
    """One decision by the signed-in person. A visit they cannot see is a 404 before the
    service looks at anything; any other refusal answers its own status (403 for a person who
    may not decide) with the visit's page and the reason."""
    user = actor_of(request)
    if not _visible_visits(user).filter(pk=visit_id).exists():
        raise Http404
    try:
        visit = change(user)
    except NotFound as exc:
        raise Http404 from exc
    except SiagaError as exc:
        return _visit_page(request, visit_id, error=str(exc.message), status=exc.status)
    messages.success(request, done(visit))
    return _back_to(request, reverse("access:visit", kwargs={"visit_id": visit_id}))


@login_required
@require_POST
def approve(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    return _decide(
        request,
        visit_id,
        lambda actor: services.approve_visit(actor=actor, visit_id=visit_id),
        _approved_message,
    )


@login_required
@require_POST
def deny(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    reason = request.POST.get("reason", "")[:300]
    return _decide(
        request,
        visit_id,
        lambda actor: services.deny_visit(actor=actor, visit_id=visit_id, reason=reason),
        lambda _visit: _("Denied: the guard has been told."),
    )


def _visible_badge(user: User, badge: str) -> StandingPass | None:
    code = badge.strip().removeprefix(BADGE_PREFIX)
    return (
        StandingPass.objects.for_user(user, Action.VIEW)
        .select_related("visitor", "site")
        .filter(badge_code=code)
        .first()
        if code
        else None
    )


def _scan_url(site_id: Any) -> str:
    url = reverse("access:scan")
    try:
        return f"{url}?site={uuid.UUID(str(site_id))}"
    except ValueError:
        return url


def _refused_page(
    request: HttpRequest, exc: SiagaError | str, *, status: int, back: str
) -> HttpResponse:
    """A refusal with no page of its own to show it on: its status, its reason, a way back."""
    message = exc if isinstance(exc, str) else str(exc.message)
    target = request.POST.get("next", "")
    if not (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        target = back
    context = {"error": message, "back_url": target}
    return _render(request, "access/gate/refused.html", context, status=status)


@login_required
@require_POST
def check_in(request: HttpRequest) -> HttpResponse:
    """In through the gate, or on into a zone: with a visit (its page) or a badge (the
    scanner). A refusal answers its status with the same page, filled in as it was sent."""
    user = actor_of(request)
    post = request.POST
    badge = post.get("badge", "").strip()[:60]
    try:
        visit_id = uuid.UUID(post["visit"]) if post.get("visit") else None
    except ValueError:
        raise Http404 from None
    if visit_id is not None:
        if not _visible_visits(user).filter(pk=visit_id).exists():
            raise Http404
        fallback = reverse("access:visit", kwargs={"visit_id": visit_id})
    else:
        fallback = _scan_url(post.get("site", ""))
        if badge and _visible_badge(user, badge) is None:
            return _scan_page(
                request, site_raw="", badge=badge, error=_("This badge is not known."), status=404
            )
    try:
        result = services.check_in(
            actor=user,
            id=_client_id(post),
            visit_id=visit_id,
            badge=badge or None,
            zone_id=_uuid(post.get("zone"), "zone_unknown", _("No such zone at this site.")),
            companion_ids=[
                companion
                for raw in post.getlist("companions")
                if (companion := _uuid(raw, "companion_not_inside", _("No such companion.")))
            ],
            items=_items(post),
            vehicle_plate=post.get("vehicle_plate", "")[:15],
            note=post.get("note", "")[:500],
        )
    except NotFound as exc:
        if visit_id is not None:
            raise Http404 from exc
        return _scan_page(
            request, site_raw="", badge=badge, error=str(exc.message), status=exc.status
        )
    except SiagaError as exc:
        if visit_id is not None:
            return _visit_page(
                request, visit_id, posted=post, error=str(exc.message), status=exc.status
            )
        if badge:
            return _scan_page(
                request,
                site_raw="",
                badge=badge,
                posted=post,
                error=str(exc.message),
                status=exc.status,
            )
        return _refused_page(request, exc, status=exc.status, back=fallback)
    event = result.obj
    where = event.zone.name if event.zone else _("the grounds")
    messages.success(
        request,
        _("Checked in: %(name)s, into %(where)s.") % {"name": event.visitor.name, "where": where},
    )
    return _back_to(request, fallback)


@login_required
@require_POST
def check_out(request: HttpRequest) -> HttpResponse:
    """Out of the site: by person (the inside board), visit (its page) or badge (the
    scanner). A refusal answers its status (403 for someone who does not guard this gate)."""
    user = actor_of(request)
    post = request.POST
    badge = post.get("badge", "").strip()[:60]
    try:
        visitor_id = uuid.UUID(post["visitor"]) if post.get("visitor") else None
        visit_id = uuid.UUID(post["visit"]) if post.get("visit") else None
    except ValueError:
        raise Http404 from None
    fallback = reverse("access:gate")
    if visit_id is not None:
        if not _visible_visits(user).filter(pk=visit_id).exists():
            raise Http404
        fallback = reverse("access:visit", kwargs={"visit_id": visit_id})
    elif visitor_id is not None:
        if not Visitor.objects.for_user(user, Action.VIEW).filter(pk=visitor_id).exists():
            raise Http404
    elif badge:
        fallback = _scan_url(post.get("site", ""))
        if _visible_badge(user, badge) is None:
            return _scan_page(
                request, site_raw="", badge=badge, error=_("This badge is not known."), status=404
            )
    try:
        result = services.check_out(
            actor=user,
            id=_client_id(post),
            visitor_id=visitor_id,
            visit_id=visit_id,
            badge=badge or None,
            items=_items(post),
            note=post.get("note", "")[:500],
        )
    except NotFound as exc:
        if visit_id is not None or visitor_id is not None:
            raise Http404 from exc
        return _refused_page(request, exc, status=exc.status, back=fallback)
    except SiagaError as exc:
        if visit_id is not None:
            return _visit_page(request, visit_id, error=str(exc.message), status=exc.status)
        if badge:
            return _scan_page(
                request, site_raw="", badge=badge, error=str(exc.message), status=exc.status
            )
        return _refused_page(request, exc, status=exc.status, back=fallback)
    messages.success(
        request, _("Checked out: %(name)s has left.") % {"name": result.obj.visitor.name}
    )
    return _back_to(request, fallback)


# ---------------------------------------------------------------------------------------------
# Waiting for my decision


@login_required
@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    visits = (
        services.approvals_waiting(actor_of(request))
        .select_related("visitor", "site__access_rules", "host", "registered_by")
        .prefetch_related("zones")
        .order_by("planned_start")
    )
    now = timezone.now()
    rows = [
        {
            "visit": visit,
            "when": _window(visit),
            "photo_url": _photo_url(visit.visitor),
            "missing": _missing_lines(visit, services.approvals_missing(visit, now=now)),
        }
        for visit in visits[:200]
    ]
    # The dashboard's "refused at the gate since yesterday evening" opens here with ?since=.
    since = since_param(request.GET.get("since"))
    refused = (
        list(
            Visit.objects.for_user(actor_of(request), Action.VIEW)
            .filter(state=VisitState.DENIED, decided_at__gte=since)
            .select_related("visitor", "site", "decided_by")
            .defer("visitor__photo")
            .order_by("-decided_at")[:200]
        )
        if since is not None
        else []
    )
    context = {"rows": rows, "since": since, "refused": refused}
    return _render(request, "access/gate/approvals.html", context)


# ---------------------------------------------------------------------------------------------
# Who is inside now


@dataclass
class InsideRow:
    presence: Presence
    overstaying: bool
    checkout_id: uuid.UUID


@dataclass
class InsideGroup:
    group: selectors.ZoneGroup
    rows: list[InsideRow] = field(default_factory=list)
    kpu_present: bool = False
    guard_present: bool = False


def _inside_groups(board: selectors.InsideBoard) -> list[InsideGroup]:
    groups = []
    for group in board.groups:
        officers = {p.visitor.officer for p in group.people}
        groups.append(
            InsideGroup(
                group=group,
                rows=[
                    InsideRow(p, selectors.is_overstaying(p, board.at), uuid7())
                    for p in group.people
                ],
                kpu_present=Officer.KPU in officers,
                guard_present=bool(officers & {Officer.POLRI, Officer.BAWASLU}),
            )
        )
    return groups


@login_required
@require_GET
def inside(request: HttpRequest, site_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    site = Site.objects.for_user(user, Action.VIEW).filter(pk=site_id).first()
    if site is None:
        raise Http404
    board = selectors.inside_board(site)
    context = {
        "site": site,
        "board": board,
        "groups": _inside_groups(board),
        "can_operate": user_can(user, Action.OPERATE_GATE, site.region_id),
        "roll_call_url": _url_or_none("access:roll_call", site_id=site.pk),
        "refresh_url": request.path,
    }
    template = "access/gate/_inside_board.html" if request.htmx else "access/gate/inside.html"  # type: ignore[attr-defined]
    return _render(request, template, context, site=site)


# ---------------------------------------------------------------------------------------------
# The badge scanner


@login_required
@require_GET
def scan(request: HttpRequest) -> HttpResponse:
    """Step one: the camera (or the guard's thumbs) reads the badge; step two: the holder's
    face and pass are shown, and the guard lets them in or out."""
    return _scan_page(
        request,
        site_raw=request.GET.get("site", ""),
        badge=request.GET.get("badge", "").strip()[:60],
    )


def _scan_page(
    request: HttpRequest,
    *,
    site_raw: str,
    badge: str,
    posted: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The scanner; after a refused check-in, with the refusal and what was typed."""
    user = actor_of(request)
    sites = _sites(user)
    site = _site_from(site_raw, sites)
    context: dict[str, Any] = {"site": site, "badge": badge, "error": error}
    issued = _visible_badge(user, badge) if badge else None
    if badge and issued is None:
        context["error"] = _("This badge is not known.")
        status = 404
    elif issued is not None:
        refusal = services.pass_refusal(issued, timezone.now())
        presence = (
            Presence.objects.filter(visitor_id=issued.visitor_id)
            .select_related("zone", "site")
            .first()
        )
        site = issued.site
        again = _posted_check_in(posted)
        items = _item_fields()
        for item in items:
            item["value"] = again.get("items", {}).get(item["kind"], "")
        context.update(
            {
                "site": site,
                "issued": issued,
                "photo_url": _photo_url(issued.visitor),
                "refusal": PASS_REFUSALS.get(refusal, "") if refusal else "",
                "presence": presence,
                "inside_elsewhere": presence is not None and presence.site_id != site.pk,
                "zones": _zone_choices(issued.zones.all()),
                "companions": _people_inside(site, besides=issued.visitor_id),
                "can_operate": user_can(user, Action.OPERATE_GATE, site.region_id),
                "check_in_id": again.get("id") or uuid7(),
                "check_out_id": uuid7(),
                "items": items,
                "posted": again,
            }
        )
    context["back_url"] = _scan_url(site.pk if site else "")
    return _render(request, "access/gate/scan.html", context, site=site, status=status)


urlpatterns: list[URLPattern] = [
    path("", gate_home, name="gate"),
    path("tamu-baru/", walk_in, name="walk_in"),
    path("tamu-baru/cek-nik/", walk_in_lookup, name="walk_in_lookup"),
    path("kunjungan/<uuid:visit_id>/", visit_detail, name="visit"),
    path("kunjungan/<uuid:visit_id>/tunggu/", visit_wait, name="visit_wait"),
    path("kunjungan/<uuid:visit_id>/setujui/", approve, name="approve"),
    path("kunjungan/<uuid:visit_id>/tolak/", deny, name="deny"),
    path("masuk/", check_in, name="check_in"),
    path("keluar/", check_out, name="check_out"),
    path("persetujuan/", approvals, name="approvals"),
    path("pindai/", scan, name="scan"),
    path("<uuid:site_id>/di-dalam/", inside, name="inside"),
]

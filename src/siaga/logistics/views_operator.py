"""Operator forms for the phone: a vendor delivery counted in, a package packed and sealed for a
TPS, and a handover (BAST) dispatched to the next site, with a small index of the sites the
operator records logistics for.

Thin, like the custody pages: each form is a GET that mints the client ``id`` (a hidden field,
so a double submit is one record) and a POST that is one call to ``services``. A refusal comes
back as the same form with the message and what was typed, under the error's status — never a
500. A site outside the reader's view is a 404; one they see but may not record at is a 403."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.core.errors import InvalidInput, SiagaError
from siaga.logistics import services
from siaga.logistics.choices import PackageKind
from siaga.logistics.models import Election, ItemType
from siaga.regions.codes import subtree_q
from siaga.regions.timezones import time_zone_of
from siaga.sites import chooser
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

OPERATOR_KINDS = (SiteKind.WAREHOUSE, SiteKind.PPK, SiteKind.PPS)
SITES_LIMIT = 500
WITNESS_ROWS = 2
WITNESS_AGENCIES = (
    ("polri", "Polri"),
    ("bawaslu", "Bawaslu"),
    ("kpu", "KPU"),
    ("other", "other"),
)


# ---------------------------------------------------------------------------------------------
# Shared bits


def _operator_site(request: HttpRequest, user: User) -> Site:
    """The ``site`` the form is for: 404 when it is unknown or outside the user's view, 403
    when they see it but may not record logistics there."""
    raw = request.GET.get("site", "").strip()
    try:
        site_id = uuid.UUID(raw)
    except ValueError:
        raise Http404 from None
    site = (
        Site.objects.for_user(user, Action.VIEW)
        .select_related("region", "owner_unit")
        .filter(pk=site_id, kind__in=OPERATOR_KINDS)
        .first()
    )
    if site is None:
        raise Http404
    if not user_can(user, Action.RECORD_LOGISTICS, site.region_id):
        raise PermissionDenied
    if request.method == "GET":
        chooser.remember(user, "operator", site)
    return site


def _election(request: HttpRequest) -> Election:
    """The election named by ``election`` (form or query), else the newest one."""
    code = (request.POST.get("election") or request.GET.get("election") or "").strip()
    found = Election.objects.filter(code=code).first() if code else Election.objects.first()
    if found is None:
        raise Http404
    return found


def _items(election: Election) -> list[ItemType]:
    return list(ItemType.objects.filter(election=election).order_by("position", "code"))


def _form_id(post: Mapping[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(post.get("id", "")).strip())
    except ValueError:
        raise InvalidInput(
            "form_id_invalid",
            _("This form has expired; open it again."),
            detail={"field": "id"},
        ) from None


def _whole(post: Mapping[str, Any], name: str) -> int | None:
    """A number field: ``None`` when blank; the service judges its sign and size."""
    raw = str(post.get(name, "")).strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(
            "quantity_invalid",
            _("Quantities are whole numbers, zero or more."),
            detail={"field": name},
        ) from None


def _text(post: Mapping[str, Any], name: str, limit: int) -> str:
    return str(post.get(name, "")).strip()[:limit]


def _lines_of(post: Mapping[str, Any], name: str) -> list[str]:
    return [s.strip() for s in str(post.get(name, "")).splitlines() if s.strip()]


def _typed(post: Mapping[str, Any] | None) -> dict[str, str]:
    """What was typed, to fill the form again after a refusal."""
    if post is None:
        return {}
    return {k: str(v) for k, v in post.items() if k != "csrfmiddlewaretoken"}


def _base_context(
    site: Site,
    election: Election,
    post: Mapping[str, Any] | None,
    error: str,
) -> dict[str, Any]:
    return {
        "site": site,
        "election": election,
        "elections": list(Election.objects.all()),
        **form_context(post, error),
    }


def form_context(post: Mapping[str, Any] | None, error: str) -> dict[str, Any]:
    """What every operator form shows: the client ``id`` (minted on a GET, kept on a refusal
    so that a resubmit is the same record), what was typed, and the refusal."""
    return {
        "form_id": str(post.get("id", "")) if post is not None else str(uuid.uuid4()),
        "typed": _typed(post),
        "error": error,
    }


@dataclass(frozen=True)
class ItemRow:
    item: ItemType
    fields: list[tuple[str, str, str]]  # per column: the input's name, its label, the value shown


def _item_rows(
    items: list[ItemType], columns: list[tuple[str, str]], post: Mapping[str, Any] | None
) -> list[ItemRow]:
    """A row of number inputs per item, one per ``(prefix, label)`` column, named
    ``prefix-item``, filled with what was typed."""
    return [
        ItemRow(
            item,
            [
                (
                    f"{prefix}-{item.code}",
                    label,
                    str(post.get(f"{prefix}-{item.code}", "")) if post is not None else "",
                )
                for prefix, label in columns
            ],
        )
        for item in items
    ]


def _see_other(name: str, **kwargs: Any) -> HttpResponse:
    """303: after a POST, the browser GETs the next page (a reload does not post again)."""
    return see_other(reverse(name, kwargs=kwargs or None))


def see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def form_flow(
    request: HttpRequest,
    page: Callable[..., HttpResponse],
    record: Callable[[Mapping[str, Any]], HttpResponse],
) -> HttpResponse:
    """An operator form's round: a GET is the blank ``page``; a POST is ``record`` (one call
    to a service, then where to go), or on a refusal the ``page`` again with the message and
    what was typed, under the error's status."""
    if request.method != "POST":
        return page()
    try:
        return record(request.POST)
    except SiagaError as exc:
        return page(post=request.POST, error=str(exc.message), status=exc.status)


def witness_rows(typed: Mapping[str, str], defaults: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The witness rows of a form, as typed, or offering the ``defaults`` agencies first."""
    return [
        {
            "n": n,
            "name": typed.get(f"witness{n}-name", ""),
            "agency": typed.get(f"witness{n}-agency", "")
            or (defaults[n - 1] if n <= len(defaults) else ""),
        }
        for n in range(1, WITNESS_ROWS + 1)
    ]


# ---------------------------------------------------------------------------------------------
# The index


@login_required
@require_http_methods(["GET"])
def operator_home(request: HttpRequest) -> HttpResponse:
    """The operator's post (their last site first, warehouse before stores), each with its
    forms, then the place chooser's search for any other site they record at."""
    user = actor_of(request)
    place = chooser.build(request, purpose="operator", label=_("Another site"))
    cards = list(place.post)
    raw = request.GET.get("site", "").strip()
    if raw:
        try:
            picked = chooser.scope(user, "operator").filter(pk=uuid.UUID(raw)).first()
        except ValueError:
            raise Http404 from None
        if picked is None:
            raise Http404
        cards = [picked, *(site for site in cards if site.pk != picked.pk)]
    place.post = []  # shown as the cards above the search
    context = {"sites": cards, "chooser": place}
    return render(request, "logistics/operator/home.html", context)


# ---------------------------------------------------------------------------------------------
# A vendor delivery counted in


def _receipt_lines(items: list[ItemType], post: Mapping[str, Any]) -> list[services.ReceiptLineIn]:
    """One line per item with anything typed; a blank expected is what was counted."""
    lines = []
    for item in items:
        expected = _whole(post, f"expected-{item.code}")
        counted = _whole(post, f"counted-{item.code}")
        damaged = _whole(post, f"damaged-{item.code}")
        if expected is None and counted is None and damaged is None:
            continue
        if counted is None:
            raise InvalidInput(
                "counted_required",
                _("Enter the quantity counted for %(item)s.") % {"item": item.name},
                detail={"field": f"counted-{item.code}"},
            )
        lines.append(
            services.ReceiptLineIn(
                item.code,
                counted if expected is None else expected,
                counted,
                damaged or 0,
            )
        )
    return lines


def _receipt_page(
    request: HttpRequest,
    site: Site,
    election: Election,
    *,
    post: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _base_context(site, election, post, error)
    columns = [("expected", _("expected")), ("counted", _("counted")), ("damaged", _("damaged"))]
    context["rows"] = _item_rows(_items(election), columns, post)
    return render(request, "logistics/operator/receipt.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def receipt_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    site = _operator_site(request, user)
    election = _election(request)

    def record(post: Mapping[str, Any]) -> HttpResponse:
        done = services.record_receipt(
            actor=user,
            id=_form_id(post),
            site_id=site.pk,
            election=election.code,
            vendor=_text(post, "vendor", 150),
            delivery_note=_text(post, "delivery_note", 60),
            vehicle_plate=_text(post, "vehicle_plate", 15),
            note=_text(post, "note", 500),
            lines=_receipt_lines(_items(election), post),
        )
        messages.success(
            request,
            _("Delivery %(note)s recorded at %(site)s.")
            % {"note": done.obj.delivery_note, "site": site.name},
        )
        return _see_other("logistics:operator-home")

    return form_flow(request, partial(_receipt_page, request, site, election), record)


# ---------------------------------------------------------------------------------------------
# A package packed and sealed


def _visible_site_by_code(user: User, raw: str, field: str, *, tps: bool = False) -> Site:
    code = raw.strip().upper()
    sites = Site.objects.for_user(user, Action.VIEW).filter(code=code)
    if tps:
        sites = sites.filter(kind=SiteKind.TPS)
    found = sites.first() if code else None
    if found is None:
        raise InvalidInput(
            "site_code_unknown",
            _("No TPS has the code %(code)s.") % {"code": code or "—"}
            if tps
            else _("No site has the code %(code)s.") % {"code": code or "—"},
            detail={"field": field},
        )
    return found


def _package_lines(items: list[ItemType], post: Mapping[str, Any]) -> list[services.Line]:
    lines = []
    for item in items:
        quantity = _whole(post, f"quantity-{item.code}")
        if quantity is not None:
            lines.append(services.Line(item.code, quantity))
    return lines


def _pack_page(
    request: HttpRequest,
    user: User,
    site: Site,
    election: Election,
    *,
    post: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _base_context(site, election, post, error)
    context["rows"] = _item_rows(_items(election), [("quantity", "")], post)
    context["kinds"] = PackageKind.choices
    destination = chooser.build(
        request,
        purpose="tps",
        mode="datalist",
        field="destination",
        label=_("Destination TPS (site code)"),
        chosen=context["typed"].get("destination", ""),
    )
    # After the TPS last packed for, the first TPS this site serves; the rest by search.
    offered = destination.post
    offered.extend(
        chooser.scope(user, "tps")
        .filter(subtree_q("region__code", [services.service_area(site)]))
        .exclude(pk__in=[tps.pk for tps in offered])
        .order_by("code")[: max(chooser.POST_LIMIT - len(offered), 0)]
    )
    context["destination"] = destination
    return render(request, "logistics/operator/pack.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def pack_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    site = _operator_site(request, user)
    election = _election(request)

    def record(post: Mapping[str, Any]) -> HttpResponse:
        form_id = _form_id(post)
        destination = _visible_site_by_code(
            user, _text(post, "destination", 40), "destination", tps=True
        )
        done = services.pack_package(
            actor=user,
            id=form_id,
            site_id=site.pk,
            destination_id=destination.pk,
            election=election.code,
            kind=_text(post, "kind", 10),
            label=_text(post, "label", 80),
            lines=_package_lines(_items(election), post),
            seals=_lines_of(post, "seals"),
        )
        chooser.remember(user, "tps", destination)
        messages.success(
            request, _("Package %(code)s packed and sealed.") % {"code": done.obj.code}
        )
        return _see_other("logistics:custody-package", package_code=done.obj.code)

    return form_flow(request, partial(_pack_page, request, user, site, election), record)


# ---------------------------------------------------------------------------------------------
# A handover dispatched


def local_moment(site: Site, raw: str, name: str) -> dt.datetime:
    """A ``datetime-local`` field, read in the site's own time zone (WIB, WITA or WIT)."""
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            "time_invalid",
            _("Enter a date and time, such as 2029-01-25 08:00."),
            detail={"field": name},
        ) from None
    if timezone.is_aware(moment):
        return moment
    return moment.replace(tzinfo=time_zone_of(site.region_id))


def _witnesses(post: Mapping[str, Any]) -> list[services.Witness]:
    """Each witness row with a name; the service checks the agency."""
    witnesses = []
    for n in range(1, WITNESS_ROWS + 1):
        name = _text(post, f"witness{n}-name", 150)
        agency = _text(post, f"witness{n}-agency", 20)
        if name:
            witnesses.append(services.Witness(name, agency))
    return witnesses


def _dispatch_page(
    request: HttpRequest,
    site: Site,
    election: Election,
    *,
    post: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _base_context(site, election, post, error)
    context["witness_rows"] = witness_rows(context["typed"])
    context["agencies"] = WITNESS_AGENCIES
    context["to_site"] = chooser.build(
        request,
        purpose="destination",
        mode="datalist",
        field="to_site",
        label=_("To site (site code)"),
        chosen=context["typed"].get("to_site", ""),
    )
    return render(request, "logistics/operator/dispatch.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def dispatch_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    site = _operator_site(request, user)
    election = _election(request)

    def record(post: Mapping[str, Any]) -> HttpResponse:
        form_id = _form_id(post)
        to_site = _visible_site_by_code(user, _text(post, "to_site", 40), "to_site")
        done = services.dispatch_handover(
            actor=user,
            id=form_id,
            from_site_id=site.pk,
            to_site_id=to_site.pk,
            election=election.code,
            packages=_lines_of(post, "packages"),
            witnesses=_witnesses(post),
            place=_text(post, "place", 150),
            vehicle_plate=_text(post, "vehicle_plate", 15),
            expected_at=local_moment(site, expected, "expected_at")
            if (expected := _text(post, "expected_at", 30))
            else None,
        )
        chooser.remember(user, "destination", to_site)
        messages.success(request, _("BAST %(number)s dispatched.") % {"number": done.obj.number})
        return _see_other("logistics:custody-handover", handover_id=done.obj.pk)

    return form_flow(request, partial(_dispatch_page, request, site, election), record)


# Before the custody pages: ``custody/packages/<path:package_code>/`` would take ``new/``.
urlpatterns: list[URLPattern] = [
    path("custody/operator/", operator_home, name="operator-home"),
    path("custody/receipts/new/", receipt_new, name="operator-receipt"),
    path("custody/packages/new/", pack_new, name="operator-pack"),
    path("custody/handovers/new/", dispatch_new, name="operator-dispatch"),
]

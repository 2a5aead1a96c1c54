"""Sortir-lipat at the warehouse, on the web: a page of the sessions that sorted and folded the
ballots and of the witnessed destructions that followed, with what each site still holds
damaged; a form for each. The forms are thin like the operator's others (``views_operator``):
a GET mints the client ``id``, a POST is one call to ``services``, a refusal is the same form
with the message and what was typed, under the error's status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.logistics import services
from siaga.logistics.choices import ItemCategory
from siaga.logistics.models import (
    Destruction,
    Election,
    ItemType,
    SortingLine,
    SortingSession,
    Stock,
)
from siaga.logistics.views_custody import _uuid
from siaga.logistics.views_operator import (
    SITES_LIMIT,
    WITNESS_AGENCIES,
    _base_context,
    _election,
    _form_id,
    _item_rows,
    _operator_site,
    _text,
    _whole,
    _witnesses,
    form_flow,
    local_moment,
    see_other,
    witness_rows,
)
from siaga.regions.timezones import time_zone_of
from siaga.sites import chooser
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

# Why a sheet was put aside: the columns of the sorting form (stored as the line's reasons).
REASONS = (
    ("robek", gettext_lazy("torn")),
    ("noda", gettext_lazy("stained")),
    ("salah_cetak", gettext_lazy("misprinted")),
    ("lainnya", gettext_lazy("other")),
)
SESSIONS_SHOWN = 50
# A destruction's witnesses as the form first offers them: the two the service requires.
WITNESS_DEFAULTS = ("bawaslu", "polri")


def _reasons_text(reasons: Mapping[str, int]) -> str:
    labels = dict(REASONS)
    return ", ".join(f"{labels.get(k, k)} {v}" for k, v in reasons.items())


def _ballots(election: Election) -> list[ItemType]:
    """The ballot kinds of the election: what sortir-lipat sorts."""
    return list(
        ItemType.objects.filter(election=election, category=ItemCategory.BALLOT).order_by(
            "position", "code"
        )
    )


def _local_text(site: Site, moment: dt.datetime) -> str:
    return moment.astimezone(time_zone_of(site.region_id)).strftime("%Y-%m-%dT%H:%M")


def _see_list(site: Site) -> HttpResponse:
    return see_other(f"{reverse('logistics:sorting')}?site={site.pk}")


# ---------------------------------------------------------------------------------------------
# The page: sessions, destructions and what is left damaged


@dataclass
class Tally:
    """One site and ballot kind: sorted, put aside, replacements asked, destroyed, and what
    the site holds damaged now (put aside and not yet destroyed, plus damage on delivery)."""

    site: Site
    item: ItemType
    good: int = 0
    damaged: int = 0
    replacement: int = 0
    destroyed_damaged: int = 0
    destroyed_excess: int = 0
    damaged_in_stock: int = 0


@dataclass
class SessionRow:
    session: SortingSession
    lines: list[tuple[SortingLine, str]] = field(default_factory=list)  # with its reasons


@dataclass
class DestructionRow:
    destruction: Destruction
    lines: list[tuple[str, int, int]]  # item name, damaged, excess


@login_required
@require_http_methods(["GET"])
def sorting_page(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    warehouses = Site.objects.for_user(user, Action.VIEW).filter(kind=SiteKind.WAREHOUSE)
    query, typed, site_error = chooser.filter_query(request.GET, user)
    site_id = _uuid(query.get("site"))
    chosen = warehouses.filter(pk=site_id).first() if site_id else None
    if typed and chosen is None and not site_error:
        site_error = _("%(code)s is not a warehouse.") % {"code": typed}
    if chosen:
        shown = [chosen]
    elif site_error:
        shown = []
    else:
        shown = list(warehouses.order_by("name")[:SITES_LIMIT])
    code = request.GET.get("election", "").strip()
    election = Election.objects.filter(code=code).first() if code else Election.objects.first()
    items = _ballots(election) if election else []
    by_code = {item.code: item for item in items}
    sessions = list(
        SortingSession.objects.filter(site__in=shown, election=election)
        .select_related("site", "supervisor")
        .order_by("-started_at")[:SESSIONS_SHOWN]
    )
    session_rows = {s.pk: SessionRow(s) for s in sessions}
    lines = SortingLine.objects.filter(session__in=sessions).select_related("item")
    for line in lines.order_by("item__position"):
        session_rows[line.session_id].lines.append((line, _reasons_text(line.reasons)))
    destructions = list(
        Destruction.objects.filter(site__in=shown, election=election)
        .select_related("site", "recorded_by")
        .order_by("-at")[:SESSIONS_SHOWN]
    )
    tallies: dict[tuple[Any, int], Tally] = {
        (site.pk, item.pk): Tally(site, item) for site in shown for item in items
    }
    sorted_lines = (
        SortingLine.objects.filter(
            session__site__in=shown, session__election=election, item__in=items
        )
        .values_list("session__site_id", "item_id")
        .annotate(Sum("good"), Sum("damaged"), Sum("replacement_requested"))
        .order_by()
    )
    for site_id, item_id, good, damaged, replacement in sorted_lines:
        tally = tallies[(site_id, item_id)]
        tally.good, tally.damaged, tally.replacement = good, damaged, replacement
    for destruction in Destruction.objects.filter(site__in=shown, election=election):
        for code, damaged, excess in destruction.lines:
            item = by_code.get(code)
            if item is not None:
                tally = tallies[(destruction.site_id, item.pk)]
                tally.destroyed_damaged += damaged
                tally.destroyed_excess += excess
    held = Stock.objects.filter(site__in=shown, item__in=items)
    for site_id, item_id, damaged in held.values_list("site_id", "item_id", "damaged"):
        tallies[(site_id, item_id)].damaged_in_stock = damaged
    return render(
        request,
        "logistics/custody/sorting.html",
        {
            "site_filter": chooser.site_filter(
                request,
                warehouses,
                chosen=chosen,
                label=_("Warehouse"),
                every=_("Every warehouse"),
                typed=typed,
                error=site_error,
            ),
            "many": warehouses[:2].count() > 1,
            "chosen": chosen,
            "election": election,
            "sessions": list(session_rows.values()),
            "destructions": [
                DestructionRow(
                    d,
                    [
                        (by_code[code].name if code in by_code else code, damaged, excess)
                        for code, damaged, excess in d.lines
                    ],
                )
                for d in destructions
            ],
            "tallies": [
                t
                for t in tallies.values()
                if t.good
                or t.damaged
                or t.destroyed_damaged
                or t.destroyed_excess
                or t.damaged_in_stock
            ],
            "may_record": [
                s for s in shown if user_can(user, Action.RECORD_LOGISTICS, s.region_id)
            ],
        },
    )


# ---------------------------------------------------------------------------------------------
# A sortir-lipat session


def _sorting_columns() -> list[tuple[str, str]]:
    return [
        ("good", _("good")),
        *((reason, str(label)) for reason, label in REASONS),
        ("replacement", _("replacement asked")),
    ]


def _sorting_lines(items: list[ItemType], post: Mapping[str, Any]) -> list[services.SortingLineIn]:
    """One line per ballot kind with anything typed; damaged is the sum of its reasons."""
    lines = []
    for item in items:
        good = _whole(post, f"good-{item.code}")
        reasons = {
            reason: count
            for reason, _label in REASONS
            if (count := _whole(post, f"{reason}-{item.code}")) is not None
        }
        replacement = _whole(post, f"replacement-{item.code}")
        if good is None and not reasons and replacement is None:
            continue
        lines.append(
            services.SortingLineIn(
                item.code,
                good or 0,
                sum(reasons.values()),
                {reason: count for reason, count in reasons.items() if count},
                replacement or 0,
            )
        )
    return lines


def _sorting_form(
    request: HttpRequest,
    site: Site,
    election: Election,
    *,
    post: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _base_context(site, election, post, error)
    if post is None:  # today from 08:00 until now, where the site is
        now = _local_text(site, timezone.now())
        context["typed"] = {"started_at": now[:10] + "T08:00", "ended_at": now}
    context["rows"] = _item_rows(_ballots(election), _sorting_columns(), post)
    return render(request, "logistics/operator/sorting.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sorting_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    site = _operator_site(request, user)
    election = _election(request)

    def record(post: Mapping[str, Any]) -> HttpResponse:
        done = services.record_sorting(
            actor=user,
            id=_form_id(post),
            site_id=site.pk,
            election=election.code,
            started_at=local_moment(site, _text(post, "started_at", 30), "started_at"),
            ended_at=local_moment(site, _text(post, "ended_at", 30), "ended_at"),
            workers=_whole(post, "workers") or 0,
            note=_text(post, "note", 500),
            lines=_sorting_lines(_ballots(election), post),
        )
        found = sum(line.damaged for line in done.obj.lines.all())
        messages.success(
            request,
            _("Sortir-lipat recorded at %(site)s: %(damaged)d damaged sheets put aside.")
            % {"site": site.name, "damaged": found},
        )
        return _see_list(site)

    return form_flow(request, partial(_sorting_form, request, site, election), record)


# ---------------------------------------------------------------------------------------------
# A witnessed destruction


def _destruction_lines(
    items: list[ItemType], post: Mapping[str, Any]
) -> list[services.DestructionLineIn]:
    lines = []
    for item in items:
        damaged = _whole(post, f"damaged-{item.code}")
        excess = _whole(post, f"excess-{item.code}")
        if damaged is None and excess is None:
            continue
        lines.append(services.DestructionLineIn(item.code, damaged or 0, excess or 0))
    return lines


def _destruction_form(
    request: HttpRequest,
    site: Site,
    election: Election,
    *,
    post: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _base_context(site, election, post, error)
    context["witness_rows"] = witness_rows(context["typed"], WITNESS_DEFAULTS)
    context["agencies"] = WITNESS_AGENCIES
    items = _ballots(election)
    held = dict(Stock.objects.filter(site=site, item__in=items).values_list("item_id", "damaged"))
    columns = [("damaged", _("damaged")), ("excess", _("excess"))]
    context["rows"] = [(row, held.get(row.item.pk, 0)) for row in _item_rows(items, columns, post)]
    return render(request, "logistics/operator/destruction.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def destruction_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    site = _operator_site(request, user)
    election = _election(request)

    def record(post: Mapping[str, Any]) -> HttpResponse:
        services.record_destruction(
            actor=user,
            id=_form_id(post),
            site_id=site.pk,
            election=election.code,
            method=_text(post, "method", 100),
            witnesses=_witnesses(post),
            lines=_destruction_lines(_ballots(election), post),
        )
        messages.success(request, _("Destruction recorded at %(site)s.") % {"site": site.name})
        return _see_list(site)

    return form_flow(request, partial(_destruction_form, request, site, election), record)


urlpatterns: list[URLPattern] = [
    path("custody/sorting/", sorting_page, name="sorting"),
    path("custody/sorting/new/", sorting_new, name="operator-sorting"),
    path("custody/destructions/new/", destruction_new, name="operator-destruction"),
]

"""Logistics pages: the reconciliation table with its drill-down and Excel export, and the needs
per item rolled up by region.

Thin: figures come from ``selectors`` and ``needs``; a region outside the reader's scope is a
404, as if it did not exist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core.errors import NotFound
from siaga.logistics import needs, selectors
from siaga.logistics.models import Election, ItemType
from siaga.regions.codes import is_region_code
from siaga.regions.models import Region
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _election(request: HttpRequest) -> Election | None:
    """The election asked for (404 if unknown), or the latest one; ``None`` when none exists."""
    code = request.GET.get("election", "").strip()
    if code:
        found = Election.objects.filter(code=code).first()
        if found is None:
            raise Http404
        return found
    return Election.objects.order_by("-voting_day").first()


def _region_code(request: HttpRequest) -> str:
    code = request.GET.get("region", "").strip()
    if code and not is_region_code(code):
        raise Http404
    return code


def _starting_points(user: User) -> list[Region]:
    """Where a reader without a region starts: their scope's regions, or the provinces."""
    roots = scope_roots(user, Action.VIEW)
    if roots is None:
        return list(Region.objects.filter(level=1).order_by("code"))
    return list(Region.objects.filter(code__in=roots).order_by("code"))


def _visible(user: User, code: str) -> Region:
    try:
        return selectors.visible_region(user, code)
    except NotFound as exc:
        raise Http404 from exc


@dataclass(frozen=True)
class Crumb:
    code: str
    name: str


def _crumbs(region: Region, user: User) -> list[Crumb]:
    """The regions above ``region`` that the reader may open."""
    return [
        Crumb(r.code, r.name) for r in region.ancestors() if user_can(user, Action.VIEW, r.code)
    ]


def _query(election: Election, **more: str) -> str:
    return urlencode({"election": election.code, **{k: v for k, v in more.items() if v}})


@login_required
@require_GET
def reconciliation(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    election = _election(request)
    code = _region_code(request)
    context: dict[str, Any] = {
        "election": election,
        "elections": Election.objects.order_by("-voting_day"),
    }
    if election is None or not code:
        context["starts"] = _starting_points(user) if election else []
        return render(request, "logistics/reconciliation.html", context)
    region = _visible(user, code)
    recon = selectors.reconcile(user=user, election=election, region=region.code)
    if request.GET.get("format") == "xlsx":
        body = selectors.export_workbook(recon)
        response = HttpResponse(body, content_type=XLSX)
        name = f"siaga-rekonsiliasi-{region.code}-{recon.today:%Y-%m-%d}.xlsx"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response
    tps_id = request.GET.get("tps", "")
    chosen = None
    if tps_id:
        try:
            wanted = uuid.UUID(tps_id)
        except ValueError:
            raise Http404 from None
        chosen = next((row for row in recon.tps if row.site_id == wanted), None)
        if chosen is None:
            raise Http404
    focus = chosen or recon.total
    children = [] if chosen else recon.children()
    base = reverse("logistics:reconciliation")
    context.update(
        recon=recon,
        region=region,
        crumbs=_crumbs(region, user),
        chosen=chosen,
        focus=focus,
        child_level_name=selectors.LEVEL_NAMES.get(recon.child_level, ""),
        children=[
            (
                row,
                f"{base}?{_query(election, region=region.code, tps=str(row.site_id))}"
                if row.level == selectors.TPS_LEVEL
                else f"{base}?{_query(election, region=row.code)}",
            )
            for row in children
        ],
        item_lines=[(item, focus.lines[item.pk]) for item in recon.items if item.pk in focus.lines],
        arrival_losses=[]
        if chosen
        else selectors.arrival_losses(user=user, election=election, region=region.code),
        export_url=f"{base}?{_query(election, region=region.code, format='xlsx')}",
        here_url=f"{base}?{_query(election, region=region.code)}",
        needs_url=f"{reverse('logistics:needs')}?{_query(election, region=region.code)}",
        due={kind: election.due_date(kind) for kind in (SiteKind.PPK, SiteKind.PPS, SiteKind.TPS)},
    )
    return render(request, "logistics/reconciliation.html", context)


@dataclass(frozen=True)
class NeedLine:
    code: str
    name: str
    tps: int
    voters: int
    quantities: list[int | None]
    url: str


@login_required
@require_GET
def needs_page(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    election = _election(request)
    code = _region_code(request)
    context: dict[str, Any] = {
        "election": election,
        "elections": Election.objects.order_by("-voting_day"),
    }
    roots = scope_roots(user, Action.VIEW)
    if election is None or (not code and roots is not None):
        context["choosing"] = election is not None
        context["starts"] = _starting_points(user) if election else []
        return render(request, "logistics/needs.html", context)
    region = _visible(user, code) if code else None
    root = region.code if region else needs.NATIONAL
    level = region.level if region else 0
    items = list(ItemType.objects.filter(election=election).order_by("position", "code"))
    rules = needs.rules_of(election)
    base = reverse("logistics:needs")
    lines: list[NeedLine] = []
    if level < 4:
        rollup = needs.needs_by_region(rules, level=level + 1, root=root)
        names = dict(
            Region.objects.filter(code__in=[r.code for r in rollup.rows]).values_list(
                "code", "name"
            )
        )
        for row in rollup.rows:
            lines.append(
                NeedLine(
                    code=row.code,
                    name=names.get(row.code, row.code),
                    tps=row.tps,
                    voters=row.voters,
                    quantities=[row.items.get(item.pk) for item in items],
                    url=f"{base}?{_query(election, region=row.code)}",
                )
            )
        total = rollup.total
        districts = [
            (district, [quantities.get(item.pk) for item in items])
            for district, quantities in rollup.districts.items()
        ]
        tps_count, voters = rollup.tps, rollup.voters
    else:
        tps_sites = Site.objects.for_user(user, Action.VIEW).filter(
            kind=SiteKind.TPS, region_id=root, active=True
        )
        total = {}
        tps_count = voters = 0
        for site in tps_sites.order_by("code"):
            need = needs.need_for_tps(rules, site.region_id, site.voters)
            for item_id, quantity in need.items():
                total[item_id] = total.get(item_id, 0) + quantity
            tps_count += 1
            voters += site.voters or 0
            lines.append(
                NeedLine(
                    code=site.code,
                    name=site.name,
                    tps=1,
                    voters=site.voters or 0,
                    quantities=[need.get(item.pk) for item in items],
                    url="",
                )
            )
        districts = []
    context.update(
        region=region,
        crumbs=_crumbs(region, user) if region else [],
        items=items,
        lines=lines,
        totals=[(item, total.get(item.pk, 0)) for item in items],
        total_row=[total.get(item.pk) for item in items],
        districts=districts,
        tps_count=tps_count,
        voters=voters,
        child_level_name=selectors.LEVEL_NAMES.get(level + 1, ""),
        reconciliation_url=(
            f"{reverse('logistics:reconciliation')}?{_query(election, region=root)}"
            if region
            else ""
        ),
    )
    return render(request, "logistics/needs.html", context)

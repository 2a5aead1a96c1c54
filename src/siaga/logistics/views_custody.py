"""Custody pages: the handovers (BAST) in and out of my sites, one handover with its packages and
seals, the receiver's phone page that scans each package and seal and signs the BAST, one
package's custody history, the discrepancies with their resolution, and the printed papers
(package labels and the BAST as PDF).

Thin: reads go through scoped querysets — a handover is visible to whoever sees its giving or
its receiving site, anything else is a 404 — and every change is one call to ``services``, whose
refusals come back to the page as an alert, never as a 500. Scans go to the JSON API
(``POST /api/v1/custody/scans``) from the page's script, which queues them on the phone until
they are answered. Times are shown in each site's own time zone (WIB, WITA or WIT)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, user_can
from siaga.core.errors import SiagaError
from siaga.core.links import public_url
from siaga.core.validators import since_param
from siaga.ledger.models import Entry
from siaga.logistics import pdf, services
from siaga.logistics.choices import (
    DiscrepancyKind,
    DiscrepancyState,
    HandoverState,
    PackageState,
    ScanAction,
    SealState,
)
from siaga.logistics.models import (
    Discrepancy,
    Handover,
    HandoverLine,
    HandoverPackage,
    Package,
    PackageLine,
    Scan,
    Seal,
)
from siaga.logistics.views_operator import _whole
from siaga.regions.codes import subtree_q
from siaga.regions.timezones import time_zone_of, zone_abbreviation
from siaga.sites import chooser
from siaga.sites.models import Site

PAGE_SIZE = 50
LABELS_LIMIT = 2400  # 100 sheets; a bigger print is split by destination or handover
RECENT_SCANS = 30
PDF = "application/pdf"

SCAN_RESULTS: Mapping[str, Any] = {
    "": gettext_lazy("recorded"),
    "already_received": gettext_lazy("already received"),
    "already_verified": gettext_lazy("already verified"),
    "package_unknown": gettext_lazy("unknown package"),
    "seal_unknown": gettext_lazy("unknown seal"),
    "not_on_handover": gettext_lazy("not on this BAST"),
    "wrong_destination": gettext_lazy("wrong destination"),
    "seal_mismatch": gettext_lazy("seal mismatch"),
    "handover_closed": gettext_lazy("BAST already signed"),
    "handover_out_of_scope": gettext_lazy("not yours to receive"),
}


# ---------------------------------------------------------------------------------------------
# Scoping and shared bits


def visible_handovers(user: User) -> QuerySet[Handover]:
    """Handovers the user sees: those into a site of their VIEW scope (the model's own scope)
    and those out of one."""
    roots = scope_roots(user, Action.VIEW)
    if roots is None:
        return Handover.objects.all()
    return Handover.objects.filter(
        subtree_q("to_site__region__code", sorted(roots))
        | subtree_q("from_site__region__code", sorted(roots))
    )


def visible_packages(user: User) -> QuerySet[Package]:
    """Packages bound for, packed at or now lying at a site in the user's VIEW scope."""
    roots = scope_roots(user, Action.VIEW)
    if roots is None:
        return Package.objects.all()
    ordered = sorted(roots)
    return Package.objects.filter(
        subtree_q("destination__region__code", ordered)
        | subtree_q("origin__region__code", ordered)
        | subtree_q("location__region__code", ordered)
    )


def _visible_sites(user: User) -> QuerySet[Site]:
    return Site.objects.for_user(user, Action.VIEW)


def _handover_or_404(user: User, handover_id: uuid.UUID) -> Handover:
    found = (
        visible_handovers(user)
        .select_related("from_site__region", "to_site__region", "giver", "receiver", "election")
        .filter(pk=handover_id)
        .first()
    )
    if found is None:
        raise Http404
    return found


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw or "").strip())
    except ValueError:
        return None


def _site_param(user: User, raw: str | None) -> Site | None:
    """The site a query names: ``None`` when it names none, 404 when it is not one of the
    user's (a stranger learns nothing of sites outside their scope)."""
    text = (raw or "").strip()
    if not text:
        return None
    site_id = _uuid(text)
    site = (
        _visible_sites(user).select_related("region").filter(pk=site_id).first()
        if site_id
        else None
    )
    if site is None:
        raise Http404
    return site


@dataclass(frozen=True)
class LocalTime:
    """A moment as the site's clock shows it: naive, so that templates do not move it into the
    server's zone, with the zone's name (WIB, WITA, WIT) beside it."""

    at: dt.datetime
    tz: str

    def __str__(self) -> str:
        return f"{self.at:%d-%m-%Y %H:%M} {self.tz}"


def local(site: Site, at: dt.datetime | None) -> LocalTime | None:
    if at is None:
        return None
    moment = at.astimezone(time_zone_of(site.region_id))
    return LocalTime(moment.replace(tzinfo=None), zone_abbreviation(site.region_id))


def _back_to(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _entry_url(seq: int | None) -> str | None:
    return reverse("ledger:entry", args=[seq]) if seq is not None else None


def ledger_entry_address(seq: int) -> str:
    """The absolute address of a ledger entry, as printed in the BAST's QR code."""
    return public_url(reverse("ledger:entry", args=[seq]))


def scans_api_url() -> str:
    """Where the receiving page sends its scans (``/api/v1/custody/scans``)."""
    return reverse("api-not-found", kwargs={"rest": "custody/scans"})


# ---------------------------------------------------------------------------------------------
# Handover list


@dataclass
class HandoverFilters:
    state: str = ""
    site: Site | None = None
    direction: str = ""  # "in" or "out", with a site
    q: str = ""
    typed_site: str = ""  # a site's code as typed in the filter
    site_error: str = ""  # that code names no site in scope: nothing is listed

    def as_query(self) -> dict[str, str]:
        query = {
            "state": self.state,
            "site": str(self.site.pk) if self.site else "",
            "direction": self.direction if self.site else "",
            "q": self.q,
        }
        return {k: v for k, v in query.items() if v}


def _handover_filters(request: HttpRequest, user: User) -> HandoverFilters:
    query, typed, site_error = chooser.filter_query(request.GET, user)
    state = query.get("state", "").strip()
    direction = query.get("direction", "").strip()
    return HandoverFilters(
        state=state if state in HandoverState.values else "",
        site=_site_param(user, query.get("site")),
        direction=direction if direction in ("in", "out") else "",
        q=query.get("q", "").strip()[:40],
        typed_site=typed,
        site_error=site_error,
    )


def _filtered_handovers(user: User, filters: HandoverFilters) -> QuerySet[Handover]:
    handovers = visible_handovers(user)
    if filters.site_error:
        return handovers.none()
    if filters.state:
        handovers = handovers.filter(state=filters.state)
    if filters.site is not None:
        if filters.direction == "in":
            handovers = handovers.filter(to_site=filters.site)
        elif filters.direction == "out":
            handovers = handovers.filter(from_site=filters.site)
        else:
            handovers = handovers.filter(Q(to_site=filters.site) | Q(from_site=filters.site))
    if filters.q:
        handovers = handovers.filter(number__icontains=filters.q)
    return handovers


def _handover_sites(user: User) -> QuerySet[Site]:
    """The user's sites that gave or received a handover: the filter's choices."""
    return _visible_sites(user).filter(
        Exists(Handover.objects.filter(from_site=OuterRef("pk")))
        | Exists(Handover.objects.filter(to_site=OuterRef("pk")))
    )


@dataclass(frozen=True)
class HandoverRow:
    handover: Handover
    dispatched: LocalTime | None
    packages: int
    received: int
    open_discrepancies: int


@login_required
@require_GET
def handover_list(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    filters = _handover_filters(request, user)
    handovers = (
        _filtered_handovers(user, filters)
        .select_related("from_site", "to_site")
        .annotate(
            package_count=Count("packages", distinct=True),
            received_count=Count("packages", filter=Q(packages__received=True), distinct=True),
            open_count=Count(
                "discrepancies",
                filter=Q(discrepancies__state=DiscrepancyState.OPEN),
                distinct=True,
            ),
        )
        .order_by("-dispatched_at", "number")
    )
    page = Paginator(handovers, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        HandoverRow(
            h,
            local(h.from_site, h.dispatched_at),
            h.package_count,  # type: ignore[attr-defined]
            h.received_count,  # type: ignore[attr-defined]
            h.open_count,  # type: ignore[attr-defined]
        )
        for h in page
    ]
    context = {
        "page": page,
        "rows": rows,
        "filters": filters,
        "states": HandoverState.choices,
        "site_filter": chooser.site_filter(
            request,
            _handover_sites(user),
            chosen=filters.site,
            typed=filters.typed_site,
            error=filters.site_error,
        ),
    }
    template = (
        "logistics/custody/_handover_rows.html"
        if getattr(request, "htmx", False)
        else "logistics/custody/handover_list.html"
    )
    return render(request, template, context)


# ---------------------------------------------------------------------------------------------
# One handover


@dataclass(frozen=True)
class SealRow:
    serial: str
    seen: bool


@dataclass(frozen=True)
class PartRow:
    part: HandoverPackage
    seals: list[SealRow]

    @property
    def all_seals_seen(self) -> bool:
        return all(s.seen for s in self.seals)


def _parts(handover: Handover) -> list[PartRow]:
    parts = (
        HandoverPackage.objects.filter(handover=handover)
        .select_related("package__destination")
        .order_by("package__code")
    )
    return [PartRow(part, [SealRow(s, s in part.seals_seen) for s in part.seals]) for part in parts]


def _lines(handover: Handover) -> list[HandoverLine]:
    return list(
        HandoverLine.objects.filter(handover=handover)
        .select_related("item")
        .order_by("item__position", "item__code")
    )


def _discrepancies(handover: Handover) -> list[Discrepancy]:
    return list(
        Discrepancy.objects.filter(handover=handover)
        .select_related("package", "item", "site")
        .order_by("raised_at", "pk")
    )


def _may_receive(user: User, handover: Handover) -> bool:
    return user_can(user, Action.SIGN_HANDOVER, handover.to_site.region_id)


@login_required
@require_GET
def handover_detail(request: HttpRequest, handover_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    handover = _handover_or_404(user, handover_id)
    parts = _parts(handover)
    context = {
        "handover": handover,
        "parts": parts,
        "received_count": sum(1 for p in parts if p.part.received),
        "seal_count": sum(len(p.seals) for p in parts),
        "seen_count": sum(1 for p in parts for s in p.seals if s.seen),
        "lines": _lines(handover),
        "discrepancies": [(d, pdf.detail_text(d)) for d in _discrepancies(handover)],
        "dispatched": local(handover.from_site, handover.dispatched_at),
        "received_at": local(handover.to_site, handover.received_at),
        "expected_at": local(handover.to_site, handover.expected_at),
        "dispatch_entry": _entry_url(handover.dispatch_seq),
        "receive_entry": _entry_url(handover.receive_seq),
        "can_receive": handover.state == HandoverState.DISPATCHED
        and _may_receive(user, handover)
        and handover.giver_id != user.pk,
        "labels_url": f"{reverse('logistics:custody-labels-pdf')}?"
        + urlencode({"handover": str(handover.pk)}),
    }
    return render(request, "logistics/custody/handover_detail.html", context)


# ---------------------------------------------------------------------------------------------
# Receiving: the phone page, and signing the BAST


@dataclass(frozen=True)
class LineField:
    line: HandoverLine
    name: str
    value: str
    damaged_name: str
    damaged_value: str


def _line_fields(lines: list[HandoverLine], post: Mapping[str, Any] | None) -> list[LineField]:
    fields = []
    for line in lines:
        name, damaged = f"line-{line.item.code}", f"damaged-{line.item.code}"
        value = str(post.get(name, "")) if post is not None else str(line.quantity)
        damaged_value = str(post.get(damaged, "")) if post is not None else "0"
        fields.append(LineField(line, name, value, damaged, damaged_value))
    return fields


def _counted(lines: list[HandoverLine], post: Mapping[str, Any]) -> list[services.ReceivedLine]:
    """The loose items as counted, and how many of them arrived damaged: an empty count is
    counted as sent, an empty damaged count as none."""
    counted = []
    for line in lines:
        quantity = _whole(post, f"line-{line.item.code}")
        damaged = _whole(post, f"damaged-{line.item.code}") or 0
        if quantity is None and not damaged:
            continue
        counted.append(
            services.ReceivedLine(
                line.item.code, line.quantity if quantity is None else quantity, damaged
            )
        )
    return counted


def _scan_history(handover: Handover) -> list[dict[str, Any]]:
    scans = (
        Scan.objects.filter(handover=handover)
        .select_related("by", "package")
        .order_by("-at")[:RECENT_SCANS]
    )
    return [
        {
            "scan": s,
            "at": local(handover.to_site, s.at),
            "result": SCAN_RESULTS.get(s.error, s.error),
            "ok": s.status < 400,
        }
        for s in scans
    ]


def _receive_context(
    user: User, handover: Handover, *, post: Mapping[str, Any] | None = None, error: str = ""
) -> dict[str, Any]:
    parts = _parts(handover)
    lines = _lines(handover)
    return {
        "handover": handover,
        "parts": parts,
        "line_fields": _line_fields(lines, post),
        "note": str(post.get("note", "")) if post is not None else "",
        "error": error,
        "open": handover.state == HandoverState.DISPATCHED,
        "may_receive": _may_receive(user, handover),
        "scans_url": scans_api_url(),
        "history": _scan_history(handover),
        "dispatched": local(handover.from_site, handover.dispatched_at),
        "expected": {
            "handover": str(handover.pk),
            "packages": {p.part.package.code: p.part.seals for p in parts},
            "received": [p.part.package.code for p in parts if p.part.received],
            "seen": sorted({s for p in parts for s in p.part.seals_seen}),
        },
    }


@login_required
@require_GET
def handover_receive(request: HttpRequest, handover_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    handover = _handover_or_404(user, handover_id)
    context = _receive_context(user, handover)
    status = 200 if context["may_receive"] else 403
    return render(request, "logistics/custody/receive.html", context, status=status)


@login_required
@require_POST
def handover_sign(request: HttpRequest, handover_id: uuid.UUID) -> HttpResponse:
    """Sign the BAST as its receiver: what was not scanned becomes a discrepancy."""
    user = actor_of(request)
    handover = _handover_or_404(user, handover_id)
    lines = _lines(handover)
    try:
        done = services.receive_handover(
            actor=user,
            handover_id=handover.pk,
            lines=_counted(lines, request.POST),
            note=request.POST.get("note", "").strip()[:500],
        )
    except SiagaError as exc:
        context = _receive_context(user, handover, post=request.POST, error=str(exc.message))
        return render(request, "logistics/custody/receive.html", context, status=exc.status)
    if done.state == HandoverState.RECEIVED:
        messages.success(
            request, _("BAST %(number)s signed: received complete.") % {"number": done.number}
        )
    else:
        messages.warning(
            request,
            _("BAST %(number)s signed with discrepancies; they are listed below.")
            % {"number": done.number},
        )
    return redirect("logistics:custody-handover", handover_id=done.pk)


# ---------------------------------------------------------------------------------------------
# The printed papers


@login_required
@require_GET
def bast_pdf(request: HttpRequest, handover_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    handover = _handover_or_404(user, handover_id)
    parts = list(
        HandoverPackage.objects.filter(handover=handover)
        .select_related("package__destination")
        .prefetch_related(
            Prefetch(
                "package__lines",
                PackageLine.objects.select_related("item").order_by("item__position"),
            )
        )
        .order_by("package__code")
    )
    data = pdf.BastData(
        handover=handover,
        parts=parts,
        lines=_lines(handover),
        discrepancies=_discrepancies(handover),
        entry_url=ledger_entry_address(handover.dispatch_seq)
        if handover.dispatch_seq is not None
        else "",
    )
    response = HttpResponse(pdf.bast_pdf(data), content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="{handover.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


def _labelled_packages(request: HttpRequest, user: User) -> tuple[QuerySet[Package], str]:
    """The packages to label, by ``handover``, ``destination`` (a TPS) or ``site`` (what lies
    there now), with the sheet's title; 404 for anything the user does not see."""
    live = ~Q(state=PackageState.VOID)
    if request.GET.get("handover"):
        handover_id = _uuid(request.GET["handover"])
        if handover_id is None:
            raise Http404
        handover = _handover_or_404(user, handover_id)
        codes = HandoverPackage.objects.filter(handover=handover).values("package_id")
        return Package.objects.filter(pk__in=codes), handover.number
    if request.GET.get("destination"):
        site = _site_param(user, request.GET["destination"])
        assert site is not None
        return Package.objects.filter(live, destination=site), site.name
    if request.GET.get("site"):
        site = _site_param(user, request.GET["site"])
        assert site is not None
        return Package.objects.filter(live, location=site), site.name
    raise Http404


@login_required
@require_GET
def labels_pdf(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    packages, title = _labelled_packages(request, user)
    chosen = list(
        packages.select_related("destination__region__parent")
        .prefetch_related(
            Prefetch(
                "lines", PackageLine.objects.select_related("item").order_by("item__position")
            ),
            Prefetch("seals", Seal.objects.order_by("serial")),
        )
        .order_by("destination__code", "code")[:LABELS_LIMIT]
    )
    body = pdf.labels_pdf(chosen, title=_("Package labels: %(what)s") % {"what": title})
    response = HttpResponse(body, content_type=PDF)
    response["Content-Disposition"] = 'inline; filename="siaga-labels.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------------------------------------
# One package


@dataclass(frozen=True)
class HistoryEvent:
    at: dt.datetime
    local: LocalTime | None
    what: str
    detail: str = ""
    by: str = ""
    tone: str = "secondary"
    link: str | None = None
    link_text: str = ""
    entry: str | None = None


def _history(package: Package) -> list[HistoryEvent]:
    """Packing, each handover out and in, each scan, each seal's fate and each discrepancy,
    in time order."""
    events = [
        HistoryEvent(
            package.packed_at,
            local(package.origin, package.packed_at),
            _("Packed and sealed"),
            package.origin.name,
            package.packed_by.display_name,
            "primary",
        )
    ]
    for part in HandoverPackage.objects.filter(package=package).select_related(
        "handover__from_site", "handover__to_site", "handover__giver", "handover__receiver"
    ):
        handover = part.handover
        link = reverse("logistics:custody-handover", args=[handover.pk])
        events.append(
            HistoryEvent(
                handover.dispatched_at,
                local(handover.from_site, handover.dispatched_at),
                _("Handed over"),
                f"{handover.from_site.name} → {handover.to_site.name}; "
                + _("seals %(seals)s") % {"seals": ", ".join(part.seals) or "—"},
                handover.giver.display_name,
                "info",
                link,
                handover.number,
                _entry_url(handover.dispatch_seq),
            )
        )
        if handover.received_at is not None:
            events.append(
                HistoryEvent(
                    handover.received_at,
                    local(handover.to_site, handover.received_at),
                    _("BAST signed by the receiver"),
                    (_("received") if part.received else _("not received"))
                    + "; "
                    + _("seals verified %(seals)s") % {"seals": ", ".join(part.seals_seen) or "—"},
                    handover.receiver.display_name if handover.receiver else "",
                    "success" if part.received else "danger",
                    link,
                    handover.number,
                    _entry_url(handover.receive_seq),
                )
            )
    for scan in Scan.objects.filter(package=package).select_related("by", "site"):
        action = _("Scanned") if scan.action == ScanAction.RECEIVE else _("Seal scanned")
        result = SCAN_RESULTS.get(scan.error, scan.error)
        events.append(
            HistoryEvent(
                scan.at,
                local(scan.site, scan.at),
                action,
                f"{scan.code} — {result} ({scan.status})",
                scan.by.display_name,
                "success" if scan.status < 400 else "danger",
            )
        )
    for seal in package.seals.all():
        if seal.state in (SealState.BROKEN, SealState.VOID):
            events.append(
                HistoryEvent(
                    seal.changed_at,
                    local(package.location or package.destination, seal.changed_at),
                    _("Seal %(serial)s %(state)s")
                    % {"serial": seal.serial, "state": seal.get_state_display().lower()},
                    tone="warning",
                )
            )
    resealed = Entry.objects.filter(
        kind="logistics.package.resealed", subject_id=str(package.pk)
    ).order_by("seq")
    for entry in resealed:
        facts = json.loads(entry.payload)
        witnesses = ", ".join(
            f"{w['name']} ({str(w['agency']).upper()})" for w in facts.get("witnesses", [])
        )
        events.append(
            HistoryEvent(
                entry.recorded_at,
                local(package.location or package.destination, entry.recorded_at),
                _("Opened and sealed anew"),
                _("new seals %(seals)s; witnesses %(witnesses)s")
                % {"seals": ", ".join(facts.get("applied", [])) or "—", "witnesses": witnesses},
                entry.actor,
                "warning",
                entry=_entry_url(entry.seq),
            )
        )
    for found in Discrepancy.objects.filter(package=package).select_related("site"):
        events.append(
            HistoryEvent(
                found.raised_at,
                local(found.site, found.raised_at),
                _("Discrepancy: %(kind)s") % {"kind": found.get_kind_display()},
                found.site.name,
                tone="danger",
            )
        )
        if found.resolved_at is not None:
            events.append(
                HistoryEvent(
                    found.resolved_at,
                    local(found.site, found.resolved_at),
                    _("Discrepancy resolved"),
                    found.resolution,
                    found.resolved_by.display_name if found.resolved_by else "",
                    "success",
                )
            )
    return sorted(events, key=lambda e: e.at)


def may_reseal(user: User, package: Package) -> bool:
    """Whether ``user`` may open ``package`` where it lies: not on the road, not void."""
    return (
        package.location is not None
        and package.state != PackageState.VOID
        and user_can(user, Action.RECORD_LOGISTICS, package.location.region_id)
    )


@login_required
@require_GET
def package_detail(request: HttpRequest, package_code: str) -> HttpResponse:
    user = actor_of(request)
    package = (
        visible_packages(user)
        .select_related(
            "destination__region__parent", "origin", "location", "handover", "packed_by"
        )
        .filter(code=services.package_code(package_code))
        .first()
    )
    if package is None:
        raise Http404
    seals = list(package.seals.select_related("applied_by").order_by("applied_at", "serial"))
    context = {
        "package": package,
        "lines": list(package.lines.select_related("item").order_by("item__position")),
        "seals": [
            {
                "seal": s,
                "applied": local(package.origin, s.applied_at),
                "ok": s.state in (SealState.APPLIED, SealState.VERIFIED),
            }
            for s in seals
        ],
        "history": _history(package),
        "discrepancies": [
            (d, pdf.detail_text(d))
            for d in Discrepancy.objects.filter(package=package)
            .select_related("site", "handover", "package", "item")
            .order_by("raised_at")
        ],
        "place": pdf.place_of(package.destination.region),
        "received_at_tps": local(package.destination, package.received_at_tps),
        "labels_url": f"{reverse('logistics:custody-labels-pdf')}?"
        + urlencode({"destination": str(package.destination_id)}),
        "may_reseal": may_reseal(user, package),
    }
    return render(request, "logistics/custody/package_detail.html", context)


# ---------------------------------------------------------------------------------------------
# Discrepancies


@dataclass
class DiscrepancyFilters:
    state: str = DiscrepancyState.OPEN  # "" for every state
    kind: str = ""
    site: Site | None = None
    typed_site: str = ""
    site_error: str = ""
    since: dt.datetime | None = None  # raised at or after

    def as_query(self) -> dict[str, str]:
        query = {
            "state": self.state or "all",
            "kind": self.kind,
            "site": str(self.site.pk) if self.site else "",
            "since": self.since.isoformat() if self.since else "",
        }
        return {k: v for k, v in query.items() if v}


@dataclass
class DiscrepancyRow:
    discrepancy: Discrepancy
    raised: LocalTime | None
    resolved: LocalTime | None
    detail: str
    may_resolve: bool
    error: str = ""
    typed: str = ""


@dataclass
class ResolveAttempt:
    discrepancy_id: uuid.UUID | None = None
    error: str = ""
    typed: str = ""


def _discrepancy_filters(request: HttpRequest, user: User) -> DiscrepancyFilters:
    query, typed, site_error = chooser.filter_query(request.GET, user)
    state = query.get("state", DiscrepancyState.OPEN).strip()
    kind = query.get("kind", "").strip()
    return DiscrepancyFilters(
        state=state if state in DiscrepancyState.values else "",
        kind=kind if kind in DiscrepancyKind.values else "",
        site=_site_param(user, query.get("site")),
        typed_site=typed,
        site_error=site_error,
        since=since_param(query.get("since")),
    )


def _discrepancy_page(
    request: HttpRequest, attempt: ResolveAttempt | None = None, *, status: int = 200
) -> HttpResponse:
    user = actor_of(request)
    filters = _discrepancy_filters(request, user)
    found = Discrepancy.objects.for_user(user, Action.VIEW)
    if filters.site_error:
        found = found.none()
    if filters.since is not None:
        found = found.filter(raised_at__gte=filters.since)
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.kind:
        found = found.filter(kind=filters.kind)
    if filters.site is not None:
        found = found.filter(site=filters.site)
    found = found.select_related("site", "handover", "package", "item", "resolved_by").order_by(
        "-raised_at", "pk"
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for d in page:
        row = DiscrepancyRow(
            d,
            local(d.site, d.raised_at),
            local(d.site, d.resolved_at),
            pdf.detail_text(d),
            d.state == DiscrepancyState.OPEN
            and user_can(user, Action.RECORD_LOGISTICS, d.site.region_id),
        )
        if attempt is not None and attempt.discrepancy_id == d.pk:
            row.error, row.typed = attempt.error, attempt.typed
        rows.append(row)
    site_filter = chooser.site_filter(
        request,
        _visible_sites(user).filter(Exists(Discrepancy.objects.filter(site=OuterRef("pk")))),
        chosen=filters.site,
        typed=filters.typed_site,
        error=filters.site_error,
    )
    context = {
        "page": page,
        "rows": rows,
        "filters": filters,
        "states": DiscrepancyState.choices,
        "kinds": DiscrepancyKind.choices,
        "site_filter": site_filter,
        "error": attempt.error if attempt else "",
        "here": request.get_full_path(),
    }
    return render(request, "logistics/custody/discrepancies.html", context, status=status)


@login_required
@require_GET
def discrepancy_list(request: HttpRequest) -> HttpResponse:
    return _discrepancy_page(request)


@login_required
@require_POST
def discrepancy_resolve(request: HttpRequest, discrepancy_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    found = Discrepancy.objects.for_user(user, Action.VIEW).filter(pk=discrepancy_id).first()
    if found is None:
        raise Http404
    typed = request.POST.get("resolution", "")
    try:
        services.resolve_discrepancy(actor=user, discrepancy_id=found.pk, resolution=typed)
    except SiagaError as exc:
        attempt = ResolveAttempt(found.pk, str(exc.message), typed[:500])
        return _discrepancy_page(request, attempt, status=exc.status)
    messages.success(
        request, _("Discrepancy resolved: %(kind)s.") % {"kind": found.get_kind_display()}
    )
    return _back_to(request, reverse("logistics:custody-discrepancies"))


urlpatterns: list[URLPattern] = [
    path("custody/handovers/", handover_list, name="custody-handovers"),
    path("custody/handovers/<uuid:handover_id>/", handover_detail, name="custody-handover"),
    path("custody/handovers/<uuid:handover_id>/receive/", handover_receive, name="custody-receive"),
    path("custody/handovers/<uuid:handover_id>/sign/", handover_sign, name="custody-sign"),
    path("custody/handovers/<uuid:handover_id>/bast.pdf", bast_pdf, name="custody-bast-pdf"),
    path("custody/labels.pdf", labels_pdf, name="custody-labels-pdf"),
    path("custody/packages/<path:package_code>/", package_detail, name="custody-package"),
    path("custody/discrepancies/", discrepancy_list, name="custody-discrepancies"),
    path(
        "custody/discrepancies/<uuid:discrepancy_id>/resolve/",
        discrepancy_resolve,
        name="custody-resolve",
    ),
]

"""The one place chooser: the user's post first, then search by name or code over the scope,
then — where the browser gives a location — the nearest sites; the last choice is remembered
per user and purpose.

Each app declares the purposes it chooses a site for (``register_purpose``, from its
AppConfig), and may add where a person is posted (``register_post_source``: the gate adds the
sites of their standing passes and of their last gate events), so this floor imports no domain
app. Pages include ``sites/_chooser.html`` with a ``Chooser``; the search is a plain form
first, and htmx asks ``sites:chooser`` for at most ``RESULTS_LIMIT`` matches while typing."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as default
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from siaga.core.errors import InvalidInput, SiagaError
from siaga.sites.choices import SiteKind
from siaga.sites.models import LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, ChosenSite, Site

RESULTS_LIMIT = 20
POST_LIMIT = 10
NEAREST_LIMIT = 5
QUERY_MAX = 80
# Degrees around a location searched for the nearest sites, widened until some are found.
NEAREST_BOXES = (Decimal("0.05"), Decimal("0.25"), Decimal("1"))
KIND_ORDER = {kind: n for n, kind in enumerate(SiteKind.values)}
MODES = ("link", "radio", "datalist")


@dataclass(frozen=True)
class Purpose:
    """What a site is chosen for: the action the user must hold there, the kinds offered and,
    for a chooser of links, the page (URL name) that a chosen site opens."""

    action: str
    kinds: tuple[str, ...] = ()
    link: str = ""


PURPOSES: dict[str, Purpose] = {}
# Each source answers the ids of sites where the user is posted (in the order it prefers).
PostSource = Callable[[Any], Iterable[uuid.UUID]]
POST_SOURCES: list[PostSource] = []


def register_purpose(name: str, purpose: Purpose) -> None:
    PURPOSES[name] = purpose


def register_post_source(source: PostSource) -> None:
    if source not in POST_SOURCES:
        POST_SOURCES.append(source)


def purpose_of(name: str) -> Purpose:
    try:
        return PURPOSES[name]
    except KeyError:
        raise InvalidInput(
            "chooser_purpose_unknown",
            _("Unknown purpose %(purpose)s.") % {"purpose": name[:40] or "—"},
        ) from None


def scope(user: Any, purpose: str) -> QuerySet[Site]:
    """The active sites the user may choose for ``purpose``."""
    wanted = purpose_of(purpose)
    sites = Site.objects.for_user(user, wanted.action).filter(active=True)
    if wanted.kinds:
        sites = sites.filter(kind__in=wanted.kinds)
    return sites


def remembered(user: Any, purpose: str) -> Site | None:
    """The site last chosen for ``purpose``, while it is still in the user's scope."""
    if not getattr(user, "is_authenticated", False):
        return None
    chosen = ChosenSite.objects.filter(user=user, purpose=purpose).values_list("site_id", flat=True)
    return scope(user, purpose).filter(pk__in=chosen).first()


def remember(user: Any, purpose: str, site: Site) -> None:
    if not getattr(user, "is_authenticated", False):
        return
    ChosenSite.objects.update_or_create(user=user, purpose=purpose, defaults={"site": site})


def _kind_rank() -> Case:
    """Warehouses, then PPK and PPS stores, then TPS and offices: in the database, so a limit
    never cuts the warehouse off behind the stores."""
    return Case(
        *(When(kind=kind, then=Value(rank)) for kind, rank in KIND_ORDER.items()),
        default=Value(99),
        output_field=IntegerField(),
    )


def post_sites(user: Any, purpose: str, *, limit: int = POST_LIMIT) -> list[Site]:
    """Where the user is posted: the remembered site, then the sites the sources name, then the
    sites their units own (warehouses and stores before TPS) — at most ``limit``."""
    sites = scope(user, purpose)
    chosen = remembered(user, purpose)
    found: list[Site] = [chosen] if chosen is not None else []
    seen = {s.pk for s in found}
    named: list[uuid.UUID] = []
    for source in POST_SOURCES:
        named.extend(pk for pk in source(user) if pk not in seen and pk not in named)
    if named:
        by_pk = sites.in_bulk(named[: limit * 2])
        for pk in named:
            if pk in by_pk and len(found) < limit:
                found.append(by_pk[pk])
                seen.add(pk)
    if len(found) < limit:
        owned = (
            sites.filter(owner_unit__memberships__user=user, owner_unit__memberships__active=True)
            .exclude(pk__in=seen)
            .exclude(kind=SiteKind.TPS)
            .distinct()
            .order_by(_kind_rank(), "name", "code")[: limit - len(found)]
        )
        found.extend(owned)
    return found


def clean_query(raw: str) -> str:
    query = " ".join(raw.split())
    if len(query) > QUERY_MAX:
        raise InvalidInput(
            "chooser_query_too_long",
            _("Search with at most %(count)s characters.") % {"count": QUERY_MAX},
        )
    return query


def search(user: Any, purpose: str, raw: str, *, limit: int = RESULTS_LIMIT) -> list[Site]:
    """Sites in scope whose code is the query (first), starts with it, or whose name holds it."""
    query = clean_query(raw)
    if not query:
        return []
    sites = scope(user, purpose)
    exact = list(sites.filter(code__iexact=query)[:1])
    rest = (
        sites.filter(Q(code__istartswith=query) | Q(name__icontains=query))
        .exclude(pk__in=[s.pk for s in exact])
        .order_by(_kind_rank(), "name", "code")[: limit - len(exact)]
    )
    return exact + list(rest)


def coordinate(raw: str, low: Decimal, high: Decimal, name: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidInput(
            "coordinates_invalid", _("The location is not a number."), detail={"field": name}
        )
    if not low <= value <= high:
        raise InvalidInput(
            "coordinates_outside",
            _("The location is outside Indonesia."),
            detail={"field": name},
        )
    return value


def _km(lat: Decimal, lon: Decimal, site: Site) -> float:
    assert site.latitude is not None and site.longitude is not None
    d_lat = float(site.latitude - lat) * 111.32
    d_lon = float(site.longitude - lon) * 111.32 * math.cos(math.radians(float(lat)))
    return math.hypot(d_lat, d_lon)


def nearest(
    user: Any, purpose: str, lat: Decimal, lon: Decimal, *, limit: int = NEAREST_LIMIT
) -> list[tuple[Site, float]]:
    """The sites in scope closest to (``lat``, ``lon``), with their distance in km."""
    sites = scope(user, purpose).filter(latitude__isnull=False, longitude__isnull=False)
    for box in NEAREST_BOXES:
        around = list(
            sites.filter(
                latitude__range=(lat - box, lat + box), longitude__range=(lon - box, lon + box)
            ).only("id", "code", "name", "kind", "latitude", "longitude", "region_id")[:2000]
        )
        if len(around) >= limit or box == NEAREST_BOXES[-1]:
            ranked = sorted(((s, _km(lat, lon, s)) for s in around), key=lambda pair: pair[1])
            return ranked[:limit]
    return []


@dataclass
class Chooser:
    """What ``sites/_chooser.html`` shows: one field (or one set of links) of a page."""

    purpose: str
    mode: str
    field: str
    label: str
    post: list[Site]
    query: str = ""
    results: list[Site] = default(default_factory=list)
    searched: bool = False
    error: str = ""
    chosen: str = ""  # the value chosen now (a site id, or a code for a datalist)
    link: str = ""
    allow_none: str = ""  # the label of "no site", when a page may go without one

    @property
    def endpoint(self) -> str:
        return reverse("sites:chooser")

    @property
    def query_name(self) -> str:
        return self.field if self.mode == "datalist" else f"{self.field}_q"


def build(
    request: HttpRequest,
    *,
    purpose: str,
    mode: str = "link",
    field: str = "site",
    label: str = "",
    chosen: str = "",
    allow_none: str = "",
) -> Chooser:
    """The chooser of a page: the post, and the matches of a search the page was sent."""
    user = request.user
    wanted = purpose_of(purpose)
    chooser = Chooser(
        purpose=purpose,
        mode=mode,
        field=field,
        label=label,
        post=post_sites(user, purpose),
        chosen=chosen,
        link=reverse(wanted.link) if wanted.link else "",
        allow_none=allow_none,
    )
    if mode != "datalist":
        raw = request.GET.get(chooser.query_name, "")
        if raw.strip():
            try:
                chooser.query = clean_query(raw)
                chooser.results = search(user, purpose, raw)
                chooser.searched = True
            except SiagaError as exc:
                chooser.query, chooser.error = raw[:QUERY_MAX], str(exc.message)
    return chooser


@login_required
@require_GET
def chooser_view(request: HttpRequest) -> HttpResponse:
    """The matches of a search, or the nearest sites of a location, as the chooser's list:
    at most ``RESULTS_LIMIT``; a bad input is 422 with its code and message."""
    get = request.GET
    purpose = get.get("purpose", "")
    mode = get.get("mode", "link")
    field_name = get.get("field", "site")
    context: dict[str, Any] = {"mode": mode, "field": field_name, "results": [], "error": ""}
    status = 200
    try:
        if mode not in MODES:
            raise InvalidInput("chooser_mode_unknown", _("Unknown chooser mode."))
        if not field_name.isidentifier() or len(field_name) > 40:
            raise InvalidInput("chooser_field_invalid", _("Unknown chooser field."))
        wanted = purpose_of(purpose)
        context["link"] = reverse(wanted.link) if wanted.link else ""
        if get.get("lat") or get.get("lon"):
            lat = coordinate(get.get("lat", ""), LAT_MIN, LAT_MAX, "lat")
            lon = coordinate(get.get("lon", ""), LON_MIN, LON_MAX, "lon")
            ranked = nearest(request.user, purpose, lat, lon)
            for site, km in ranked:
                site.distance_km = km  # type: ignore[attr-defined]
            context["results"] = [site for site, _km in ranked]
            context["nearest"] = True
        else:
            raw = get.get("q", get.get(f"{field_name}_q", get.get(field_name, "")))
            context["results"] = search(request.user, purpose, raw)
            context["searched"] = bool(raw.strip())
    except SiagaError as exc:
        context["error"], context["error_code"], status = str(exc.message), exc.code, exc.status
    return render(request, "sites/_chooser_results.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# A list's site filter: a short <select> of the sites that hold something, or — where they are
# more than FILTER_OPTIONS — a code field with the chooser's suggestions.

FILTER_OPTIONS = 30
FILTER_PURPOSE = "filter"


@dataclass
class SiteFilter:
    """What ``sites/_filter.html`` shows: ``options`` to pick from, or ``search`` for a code."""

    field: str
    label: str
    every: str
    options: list[Site]
    chosen: Site | None
    search: bool
    post: list[Site]
    typed: str = ""
    error: str = ""
    purpose: str = FILTER_PURPOSE

    @property
    def endpoint(self) -> str:
        return reverse("sites:chooser")

    @property
    def code_field(self) -> str:
        return f"{self.field}_code"


def filter_query(data: Any, user: Any, *, field: str = "site") -> tuple[Any, str, str]:
    """``data`` with a typed ``<field>_code`` turned into the site's id in ``<field>``; the
    code as typed and, when no site in scope has it, the message that says so (the list then
    shows nothing)."""
    code_field = f"{field}_code"
    if code_field not in data:
        return data, "", ""
    query = data.copy()
    typed = " ".join(str(query.pop(code_field)[-1]).split())[:QUERY_MAX]
    if not typed:
        query[field] = ""
        return query, "", ""
    found = scope(user, FILTER_PURPOSE).filter(code__iexact=typed).values_list("pk", flat=True)
    pk = found.first()
    if pk is None:
        query[field] = ""
        return query, typed, _("No site with the code %(code)s in your scope.") % {"code": typed}
    query[field] = str(pk)
    return query, typed, ""


def site_filter(
    request: HttpRequest,
    candidates: QuerySet[Site],
    *,
    chosen: Any = None,
    field: str = "site",
    label: str = "",
    every: str = "",
    typed: str = "",
    error: str = "",
) -> SiteFilter:
    """The filter of a list over ``candidates`` (the sites that hold something to list), with
    ``chosen`` (a site or its id) shown as chosen."""
    options = list(candidates.order_by("name", "code")[: FILTER_OPTIONS + 1])
    search = len(options) > FILTER_OPTIONS
    site = chosen if isinstance(chosen, Site) or chosen is None else None
    if site is None and chosen is not None:
        site = next((s for s in options if s.pk == chosen), None)
        if site is None:
            site = scope(request.user, FILTER_PURPOSE).filter(pk=chosen).first()
    return SiteFilter(
        field=field,
        label=label or _("Site"),
        every=every or _("Every site"),
        options=[] if search else options,
        chosen=site,
        search=search,
        post=post_sites(request.user, FILTER_PURPOSE) if search else [],
        typed=typed,
        error=error,
    )

"""A package opened before witnesses, counted and sealed anew, from the phone: what a PPK or PPS
does when a seal does not match its BAST. The form lists the package's contents to count (as
packed, to be corrected) and its seals that will be recorded as broken; the new serials are
scanned or typed. Thin like the operator's other forms: one call to
``services.reseal_package``, a refusal is the form again with what was typed."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.logistics import services
from siaga.logistics.choices import PackageState, SealState
from siaga.logistics.models import Package, PackageLine
from siaga.logistics.views_custody import visible_packages
from siaga.logistics.views_operator import (
    WITNESS_AGENCIES,
    _form_id,
    _lines_of,
    _text,
    _whole,
    _witnesses,
    form_context,
    form_flow,
    see_other,
    witness_rows,
)

# The witnesses the form first offers: either may watch a package opened.
WITNESS_DEFAULTS = ("polri", "bawaslu")


def _package(user: User, code: str) -> Package:
    """The package, 404 unless the user sees it; 403 unless they may open it where it lies."""
    found = (
        visible_packages(user)
        .select_related("location", "destination", "election")
        .filter(code=services.package_code(code))
        .first()
    )
    if found is None:
        raise Http404
    if found.location is not None and not user_can(
        user, Action.RECORD_LOGISTICS, found.location.region_id
    ):
        raise PermissionDenied
    return found


def _counted(lines: list[PackageLine], post: Mapping[str, Any]) -> list[services.Line]:
    """What was counted per item; an item left blank is taken as not recounted."""
    counted = []
    for line in lines:
        quantity = _whole(post, f"counted-{line.item.code}")
        if quantity is not None:
            counted.append(services.Line(line.item.code, quantity))
    return counted


def _form(
    request: HttpRequest,
    package: Package,
    *,
    post: Mapping[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    basics = form_context(post, error)
    typed = basics["typed"]
    lines = list(package.lines.select_related("item").order_by("item__position"))
    context = {
        "package": package,
        **basics,
        "open": package.location is not None and package.state != PackageState.VOID,
        "lines": [
            (
                line,
                f"counted-{line.item.code}",
                typed.get(f"counted-{line.item.code}", "") if post is not None else line.quantity,
            )
            for line in lines
        ],
        "old_seals": list(
            package.seals.filter(state__in=(SealState.APPLIED, SealState.VERIFIED))
            .order_by("serial")
            .values_list("serial", flat=True)
        ),
        "witness_rows": witness_rows(typed, WITNESS_DEFAULTS),
        "agencies": WITNESS_AGENCIES,
    }
    return render(request, "logistics/operator/reseal.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def reseal_new(request: HttpRequest, package_code: str) -> HttpResponse:
    user = actor_of(request)
    package = _package(user, package_code)
    if package.location is None:
        return _form(
            request,
            package,
            error=_("A package in transit is opened where it arrives, not on the road."),
            status=409,
        )
    if package.state == PackageState.VOID:
        return _form(request, package, error=_("This package is void."), status=409)

    def record(post: Mapping[str, Any]) -> HttpResponse:
        done = services.reseal_package(
            actor=user,
            id=_form_id(post),
            package=package.code,
            new_seals=_lines_of(post, "seals"),
            counted=_counted(list(package.lines.select_related("item")), post),
            witnesses=_witnesses(post),
            note=_text(post, "note", 500),
        )
        messages.success(
            request, _("Package %(code)s opened, counted and sealed anew.") % {"code": done.code}
        )
        return see_other(reverse("logistics:custody-package", args=[done.code]))

    return form_flow(request, partial(_form, request, package), record)


urlpatterns: list[URLPattern] = [
    path("custody/reseal/<path:package_code>/", reseal_new, name="operator-reseal"),
]

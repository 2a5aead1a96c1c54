"""``/readyz`` for load balancers, ``/metrics`` for Prometheus, ``/operasi/`` for the admins."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from siaga.accounts.auth import actor_of
from siaga.accounts.choices import Role
from siaga.accounts.models import User
from siaga.accounts.two_factor import has_second_factor, requires_second_factor
from siaga.core.models import WorkerHeartbeat
from siaga.ops import health
from siaga.ops.models import SystemAlarm


def may_operate(user: User) -> bool:
    return user.is_superuser or user.memberships.filter(active=True, role=Role.ADMIN).exists()


def _signed_in_admin(request: HttpRequest) -> bool:
    """An admin past the second factor (/readyz is open, so the middleware does not ask)."""
    user = request.user
    if not user.is_authenticated:
        return False
    admin = actor_of(request)
    if not admin.is_verified() and (has_second_factor(admin) or requires_second_factor(admin)):  # type: ignore[attr-defined]
        return False
    return may_operate(admin)


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when SIAGA can serve writes and its background work keeps up, else 503. Anyone may
    ask; the detail (hosts, worker names, sizes) is for a signed-in admin only."""
    checks = health.run_checks()
    ready = all(check.ok for check in checks)
    detail = _signed_in_admin(request)
    return JsonResponse(
        {
            "status": "ready" if ready else "unready",
            "checks": [check.as_dict(detail=detail) for check in checks],
        },
        status=200 if ready else 503,
    )


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """For Prometheus with ``Authorization: Bearer <SIAGA_METRICS_TOKEN>``, or an admin's
    browser; nobody else (a 404 where no token is set and nobody is signed in)."""
    from siaga.ops.metrics import exposition

    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return exposition()
    if request.user.is_authenticated and may_operate(actor_of(request)):
        return exposition()
    return JsonResponse(
        {
            "code": "metrics_token_required",
            "message": _("Send the metrics token: Authorization: Bearer <SIAGA_METRICS_TOKEN>."),
            "detail": None,
        },
        status=401,
    )


@never_cache
@login_required
def operations(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    if not may_operate(user):
        raise PermissionDenied
    checks = health.run_checks()
    return render(
        request,
        "ops/operations.html",
        {
            "checks": [check.as_dict() | {"severity": check.severity} for check in checks],
            "ready": all(check.ok for check in checks),
            "workers": WorkerHeartbeat.objects.all(),
            "fresh_after": timezone.now()
            - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS),
            "alarms": SystemAlarm.objects.all()[:30],
        },
    )


app_name = "ops"
urlpatterns = [path("", operations, name="operations")]

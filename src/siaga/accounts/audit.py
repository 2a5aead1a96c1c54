"""The sign-in record: successes, failures, refusals, token issues and 2FA changes.

Written on Django's ``user_logged_in`` / ``user_login_failed`` signals and by the services
that issue tokens or change a second factor. Kept in the database (``SignInEvent``) for the
audit, readable in the admin; never logged to the console (the address and username of a
failure are personal data).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from siaga.accounts.models import SignInEvent, SignInEventKind, User


def client_address(request: HttpRequest | None) -> str | None:
    """The address axes counts for this request (the same one, so the record matches the lock)."""
    if request is None:
        return None
    address = getattr(request, "axes_ip_address", None)
    if address is None:
        from axes.helpers import get_client_ip_address

        address = get_client_ip_address(request)
    return address or None


def channel_of(request: HttpRequest | None) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


def record(
    kind: str,
    *,
    request: HttpRequest | None,
    user: User | None = None,
    username: str = "",
    detail: dict[str, Any] | None = None,
) -> SignInEvent:
    """Append one event; ``username`` defaults to the user's. ``detail`` holds no secret."""
    agent = ""
    if request is not None:
        agent = str(request.META.get("HTTP_USER_AGENT", ""))[:255]
    return SignInEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.username if user is not None else ""))[:150],
        ip_address=client_address(request),
        user_agent=agent,
        channel=channel_of(request),
        detail=detail or {},
    )


def purge_expired(now: Any = None) -> int:
    """Delete events older than SIAGA_SIGNIN_LOG_RETENTION_DAYS; how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SIGNIN_LOG_RETENTION_DAYS)
    from axes.models import AccessFailureLog, AccessLog

    deleted, _ = SignInEvent.objects.filter(at__lt=cutoff).delete()
    AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()
    AccessLog.objects.filter(attempt_time__lt=cutoff).delete()
    return deleted


@receiver(user_logged_in, dispatch_uid="siaga.accounts.audit.logged_in")
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Without a client address this is no HTTP sign-in (the test client's force_login, a shell).
    if request is None or "REMOTE_ADDR" not in request.META:
        return
    record(SignInEventKind.SIGNED_IN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="siaga.accounts.audit.logged_out")
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and isinstance(user, User):
        record(SignInEventKind.SIGNED_OUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="siaga.accounts.audit.login_failed")
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username") or "")[:150]
    locked = bool(getattr(request, "axes_locked_out", False))
    reason = credentials.get("siaga_reason", "")
    kind = SignInEventKind.REFUSED_LOCKED if locked else SignInEventKind.FAILED
    if reason == "otp" and not locked:
        kind = SignInEventKind.SECOND_FACTOR_FAILED
    user = User.objects.filter(username=username).first() if username else None
    record(kind, request=request, user=user, username=username)

"""Pages of notifications: the inbox, the unread badge, endpoints, dead letters for admins."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from siaga.accounts.auth import actor_of
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.core.errors import NotFound, SiagaError
from siaga.notify import services
from siaga.notify.choices import PERSONAL_CHANNELS, Channel
from siaga.notify.models import Circuit, Endpoint, Message


def personal_endpoints(user: User) -> list[Endpoint]:
    """For the account page: the person's active e-mail and Telegram endpoints."""
    return list(
        Endpoint.objects.filter(user=user, active=True, channel__in=PERSONAL_CHANNELS).order_by(
            "channel", "created_at"
        )
    )


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    page = Paginator(Message.objects.inbox_of(user), 50).get_page(request.GET.get("page"))
    roots = scope_roots(user, Action.MANAGE_MASTER_DATA)
    return render(
        request, "notify/inbox.html", {"page": page, "manages": roots is None or bool(roots)}
    )


@login_required
@require_GET
@never_cache
def badge(request: HttpRequest) -> HttpResponse:
    """The unread count, polled by the navigation bar (htmx)."""
    return render(request, "notify/_badge.html")


@login_required
@require_POST
def read(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    try:
        message = services.mark_read(actor=actor_of(request), message_id=message_id)
    except NotFound as exc:
        raise Http404 from exc
    if request.htmx:  # type: ignore[attr-defined]
        response = render(request, "notify/_message.html", {"message": message})
        response["HX-Trigger"] = "notify-read"
        return response
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notify:inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(actor=actor_of(request))
    if count:
        messages.success(request, _("All messages are marked read."))
    return redirect("notify:inbox")


def _require_manager(request: HttpRequest) -> None:
    roots = scope_roots(actor_of(request), Action.MANAGE_MASTER_DATA)
    if roots is not None and not roots:
        raise PermissionDenied


@login_required
@require_GET
def dead_letters(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    dead = (
        Message.objects.dead_letters_for(actor_of(request))
        .select_related("endpoint__unit", "user")
        .order_by("-created_at", "-id")
    )
    page = Paginator(dead, 50).get_page(request.GET.get("page"))
    # Receivers whose circuit is open or half-open, or that are failing now.
    troubled = (
        Circuit.objects.visible_to(actor_of(request))
        .filter(Q(open_until__isnull=False) | Q(failures__gt=0))
        .order_by("key")
    )
    return render(request, "notify/dead.html", {"page": page, "circuits": list(troubled)})


@login_required
@require_POST
def retry(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    _require_manager(request)
    actor = actor_of(request)
    message = Message.objects.outbox_managed_by(actor).filter(pk=message_id).first()
    if message is None:
        raise Http404
    try:
        services.retry_message(message, actor=actor)
    except NotFound as exc:
        raise Http404 from exc
    except SiagaError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The message will be sent again."))
    return redirect("notify:dead")


@login_required
@require_POST
def endpoint_add(request: HttpRequest) -> HttpResponse:
    channel = request.POST.get("channel", "")
    if channel not in (Channel.EMAIL, Channel.TELEGRAM):
        messages.error(request, _("Choose e-mail or Telegram."))
        return redirect("account")
    try:
        services.add_endpoint(
            actor=actor_of(request), channel=channel, address=request.POST.get("address", "")
        )
    except SiagaError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Notifications will also go to this address."))
    return redirect("account")


@login_required
@require_POST
def endpoint_remove(request: HttpRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    user = actor_of(request)
    # Only one's own addresses here; webhooks are managed over the API.
    if not Endpoint.objects.filter(pk=endpoint_id, user=user).exists():
        raise Http404
    try:
        services.remove_endpoint(actor=user, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404 from exc
    messages.success(request, _("The address was removed."))
    return redirect("account")

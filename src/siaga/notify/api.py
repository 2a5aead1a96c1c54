"""Notifications over the API: your endpoints, your inbox, and dead letters for admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.core.errors import NotFound, PermissionDenied
from siaga.core.schemas import ErrorOut, PageQuery
from siaga.notify import services
from siaga.notify.choices import EndpointChannel
from siaga.notify.models import Circuit, Endpoint, Message

router = Router(tags=["notify"])


class EndpointOut(Schema):
    id: uuid.UUID
    channel: str
    address: str
    unit: int | None
    timeout: float | None
    active: bool
    created_at: datetime
    last_error: str

    @staticmethod
    def resolve_unit(obj: Endpoint) -> int | None:
        return obj.unit_id


class EndpointCreatedOut(EndpointOut):
    secret: str | None = Field(
        None,
        description="webhooks: the HMAC-SHA256 key of X-Siaga-Signature; only in this answer",
    )

    @staticmethod
    def resolve_secret(obj: Endpoint) -> str | None:
        return obj.secret or None


class EndpointIn(Schema):
    id: uuid.UUID | None = Field(None, description="client-chosen UUIDv7; retries are safe")
    channel: EndpointChannel
    address: str = Field(
        ..., min_length=1, max_length=500, description="e-mail, Telegram chat id, or webhook URL"
    )
    unit: int | None = Field(None, description="webhooks only: the agency unit it belongs to")
    timeout: float | None = Field(None, description="webhooks only: seconds, at most 30")


class AboutOut(Schema):
    type: str
    id: str


class MessageOut(Schema):
    id: uuid.UUID
    channel: str
    kind: str
    title: str
    body: str
    url: str
    data: dict[str, Any]
    about: AboutOut | None
    count: int
    state: str
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None

    # In the recipient's language (an admin reading a dead letter reads the recipient's too).
    @staticmethod
    def resolve_title(obj: Message) -> str:
        return obj.display_title

    @staticmethod
    def resolve_body(obj: Message) -> str:
        return obj.display_body

    @staticmethod
    def resolve_about(obj: Message) -> dict[str, str] | None:
        return {"type": obj.about_type, "id": obj.about_id} if obj.about_type else None


class InboxPage(Schema):
    count: int
    unread: int
    items: list[MessageOut]


class InboxFilter(PageQuery):
    unread: bool = Field(False, description="only unread messages")


class DeadLetterOut(MessageOut):
    attempts: int
    last_error: str
    possible_repeat: bool
    endpoint: EndpointOut | None
    recipient: str | None

    @staticmethod
    def resolve_recipient(obj: Message) -> str | None:
        return obj.user.username if obj.user is not None else None


class DeadLetterPage(Schema):
    count: int
    items: list[DeadLetterOut]


class PageFilter(PageQuery):
    limit: int = Field(100, ge=1, le=1000)


class CircuitOut(Schema):
    key: str = Field(
        description="the receiving system: webhook:host:port, telegram:chat, email:smtp"
    )
    state: str = Field(description="closed, open or half_open")
    failures: int = Field(description="consecutive failed sends")
    opened_at: datetime | None
    open_until: datetime | None = Field(description="due messages wait until then")
    probe_until: datetime | None = Field(description="a half-open probe's lease")
    last_error: str
    updated_at: datetime

    @staticmethod
    def resolve_state(obj: Circuit) -> str:
        return obj.state()


@router.get(
    "/endpoints",
    response={200: list[EndpointOut], 401: ErrorOut},
    summary="Your e-mail and Telegram endpoints, and webhooks of units you manage",
)
def list_notify_endpoints(request: HttpRequest) -> list[Endpoint]:
    return list(
        Endpoint.objects.manageable_by(actor_of(request))
        .filter(active=True)
        .order_by("channel", "created_at")
    )


@router.post(
    "/endpoints",
    response={
        200: EndpointCreatedOut,
        201: EndpointCreatedOut,
        401: ErrorOut,
        403: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Add an endpoint (idempotent with a client id); a webhook's secret is shown here only",
)
def create_notify_endpoint(request: HttpRequest, payload: EndpointIn) -> Status[Endpoint]:
    result = services.add_endpoint(
        actor=actor_of(request),
        id=payload.id,
        channel=payload.channel,
        address=payload.address,
        unit_id=payload.unit,
        timeout=payload.timeout,
    )
    return Status(201 if result.created else 200, result.obj)


@router.delete(
    "/endpoints/{endpoint_id}",
    response={200: EndpointOut, 401: ErrorOut, 404: ErrorOut},
    summary="Remove an endpoint (its undelivered messages become dead letters)",
)
def remove_notify_endpoint(request: HttpRequest, endpoint_id: uuid.UUID) -> Endpoint:
    return services.remove_endpoint(actor=actor_of(request), endpoint_id=endpoint_id)


@router.get(
    "/inbox", response={200: InboxPage, 401: ErrorOut}, summary="Your messages, unread first"
)
def list_inbox(request: HttpRequest, filters: Query[InboxFilter]) -> dict[str, Any]:
    user = actor_of(request)
    messages = Message.objects.inbox_of(user)
    if filters.unread:
        messages = messages.filter(read_at__isnull=True)
    window = messages[filters.offset : filters.offset + filters.limit]
    return {
        "count": messages.count(),
        "unread": Message.objects.unread_count(user),
        "items": list(window),
    }


@router.post(
    "/inbox/{message_id}/read",
    response={200: MessageOut, 401: ErrorOut, 404: ErrorOut},
    summary="Mark one of your messages read",
)
def read_inbox_message(request: HttpRequest, message_id: uuid.UUID) -> Message:
    return services.mark_read(actor=actor_of(request), message_id=message_id)


def _require_manager(request: HttpRequest) -> None:
    roots = scope_roots(actor_of(request), Action.MANAGE_MASTER_DATA)
    if roots is not None and not roots:
        raise PermissionDenied("forbidden", _("You may not manage notifications."))


@router.get(
    "/dead",
    response={200: DeadLetterPage, 401: ErrorOut, 403: ErrorOut},
    summary="Dead letters to endpoints of units and people in your scope (admins)",
)
def list_dead_letters(request: HttpRequest, filters: Query[PageFilter]) -> dict[str, Any]:
    _require_manager(request)
    dead = (
        Message.objects.dead_letters_for(actor_of(request))
        .select_related("endpoint", "user")
        .order_by("-created_at", "-id")
    )
    return {
        "count": dead.count(),
        "items": list(dead[filters.offset : filters.offset + filters.limit]),
    }


@router.post(
    "/messages/{message_id}/retry",
    response={200: DeadLetterOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Send a dead letter again (admins)",
)
def retry_dead_letter(request: HttpRequest, message_id: uuid.UUID) -> Message:
    _require_manager(request)
    actor = actor_of(request)
    message = Message.objects.outbox_managed_by(actor).filter(pk=message_id).first()
    if message is None:
        raise NotFound(
            "message_not_found", _("No such message."), detail={"message": str(message_id)}
        )
    return services.retry_message(message, actor=actor)


@router.get(
    "/circuits",
    response={200: list[CircuitOut], 401: ErrorOut, 403: ErrorOut},
    summary="Circuit breakers of receivers that endpoints in your scope reach (admins)",
)
def list_circuits(request: HttpRequest) -> list[Circuit]:
    _require_manager(request)
    return list(Circuit.objects.visible_to(actor_of(request)).order_by("key"))

from __future__ import annotations

import uuid
from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from siaga.accounts import services
from siaga.accounts.auth import actor_of
from siaga.accounts.models import ApiToken, Membership
from siaga.accounts.permissions import ROLE_ACTIONS
from siaga.core.schemas import ErrorOut

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=256)
    name: str = Field("api", min_length=1, max_length=100, description="e.g. the device's name")
    otp: str = Field(
        "",
        max_length=64,
        description=(
            "the current code of the authenticator app, or a recovery code: needed by "
            "accounts with a second factor (admins, commissioners, police commanders, Bawaslu)"
        ),
    )


class TokenOut(Schema):
    id: uuid.UUID
    token: str = Field(..., description="shown once; send as Authorization: Bearer <token>")
    expires_at: datetime


class TokenInfo(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class MembershipOut(Schema):
    unit: str
    agency: str
    region: str
    role: str
    actions: list[str]


class MeOut(Schema):
    username: str
    name: str
    is_superuser: bool
    memberships: list[MembershipOut]


@router.post(
    "/token",
    auth=None,
    response={201: TokenOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Exchange a username and password for a bearer token",
)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenOut]:
    user = services.authenticate_password(
        request=request, username=payload.username, password=payload.password
    )
    services.check_second_factor_for_token(request=request, user=user, code=payload.otp)
    token, raw = services.issue_api_token(actor=user, name=payload.name, request=request)
    return Status(201, TokenOut(id=token.id, token=raw, expires_at=token.expires_at))


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="Who you are and what you may do")
def me(request: HttpRequest) -> MeOut:
    user = actor_of(request)
    rows = Membership.objects.filter(user=user, active=True).select_related(
        "unit__agency", "unit__region"
    )
    return MeOut(
        username=user.username,
        name=user.display_name,
        is_superuser=user.is_superuser,
        memberships=[
            MembershipOut(
                unit=m.unit.name,
                agency=m.unit.agency.kind,
                region=m.unit.region_id,
                role=m.role,
                actions=sorted(ROLE_ACTIONS.get(m.role, ())),
            )
            for m in rows
        ],
    )


@router.get("/tokens", response={200: list[TokenInfo], 401: ErrorOut}, summary="Your tokens")
def list_tokens(request: HttpRequest) -> list[TokenInfo]:
    return [TokenInfo.model_validate(t) for t in ApiToken.objects.filter(user=actor_of(request))]


@router.delete(
    "/tokens/{token_id}",
    response={200: TokenInfo, 401: ErrorOut, 404: ErrorOut},
    summary="Revoke one of your tokens",
)
def revoke_token(request: HttpRequest, token_id: uuid.UUID) -> TokenInfo:
    token = services.revoke_api_token(actor=actor_of(request), token_id=token_id)
    return TokenInfo.model_validate(token)

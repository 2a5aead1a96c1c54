"""Who is acting: the signed-in user behind a request, typed for the services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from siaga.accounts.models import User


def actor_of(request: HttpRequest) -> User:
    """The authenticated user of an API call (``request.auth``) or a signed-in page.

    Only called behind authentication (ninja's ``auth=`` or ``@login_required``), so anything
    else here is a programming error, not a user's.
    """
    user: Any = getattr(request, "auth", None) or request.user
    if not isinstance(user, User):
        raise TypeError("actor_of() called on an unauthenticated request")
    return user

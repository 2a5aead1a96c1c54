"""Sign-in throttling on django-axes, with one limit per kind of counter.

Axes counts failures per lockout parameter (here: the username and the address together, the
username alone, the address alone) but compares every count with one limit. SIAGA wants
three: a person mistyping from one place (5), one account tried from everywhere (credential
stuffing, 20), one address trying many accounts (password spraying, 20). ``get_failures``
therefore reports each count scaled to the base limit, so that axes' own comparison
``failures >= AXES_FAILURE_LIMIT`` holds exactly when some count reaches its own limit.

The lock does not restart while it lasts (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT =
False``): attempts refused during it are recorded in ``SignInEvent`` as ``refused_locked``
but do not move axes' attempt time, so the lock ends one cool-off after the failure that
set it.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def limit_of(parameter: str | list[str]) -> int:
    """The failure limit of one lockout parameter (a name, or names counted together)."""
    names = tuple(parameter) if isinstance(parameter, list | tuple) else (parameter,)
    if names == ("username",):
        return int(settings.SIAGA_LOGIN_ACCOUNT_FAILURE_LIMIT)
    if names == ("ip_address",):
        return int(settings.SIAGA_LOGIN_ADDRESS_FAILURE_LIMIT)
    return int(settings.AXES_FAILURE_LIMIT)


class SiagaAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        base = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        attempts_list = self.get_user_attempts(request, credentials)
        has_username = bool(get_client_username(request, credentials))
        worst = 0
        for parameter, attempts in zip(parameters, attempts_list, strict=True):
            if parameter == "username" and not has_username:
                continue  # a request without a username is counted by its address only
            count = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            # count >= own limit  <=>  count * base // own limit >= base
            worst = max(worst, count * base // limit_of(parameter))
        return worst

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        """A success clears that account's counts only, never its address's: otherwise a
        sprayer who holds one account of their own could clear the address count at will."""
        from axes.models import AccessAttempt

        username = get_client_username(request, credentials)
        if not username:
            return 0
        deleted, _ = AccessAttempt.objects.filter(username=username).delete()
        return int(deleted)


def clear_account(username: str) -> int:
    """After a whole sign-in (password and, where there is one, the second factor): this
    account's failure counts go. Not on the password alone (axes' AXES_RESET_ON_SUCCESS is
    off), or a password holder could guess codes forever by signing in again between tries."""
    from axes.models import AccessAttempt

    if not username:
        return 0
    deleted, _ = AccessAttempt.objects.filter(username=username).delete()
    return int(deleted)


def is_locked(request: HttpRequest, username: str) -> bool:
    """Is this username (from this address) locked now? For the second-factor step."""
    from axes.handlers.proxy import AxesProxyHandler

    return not AxesProxyHandler.is_allowed(request, {"username": username})

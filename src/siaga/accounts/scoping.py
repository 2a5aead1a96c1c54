"""Region scoping: a user sees and acts only inside the subtrees of their units' regions."""

from __future__ import annotations

from typing import Any, Self

from django.apps import apps
from django.db import connection, models

from siaga.accounts.permissions import role_allows
from siaga.regions.codes import in_subtree, subtree_q

_CACHE_ATTR = "_siaga_scope_roots"


def scope_roots(user: Any, action: str) -> frozenset[str] | None:
    """Region codes under which ``user`` may perform ``action``; ``None`` means everywhere.

    Anonymous and inactive users get the empty set. Cached on the user object for the request.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return None
    cache: dict[str, Any] | None = getattr(user, _CACHE_ATTR, None)
    if cache is None:
        # One query per request for every action asked: the user's (role, region) pairs.
        rows = _membership_rows(user.pk)
        cache = {"": rows}
        setattr(user, _CACHE_ATTR, cache)
    if action not in cache:
        cache[action] = frozenset(
            code for role, code, _unit in cache[""] if role_allows(role, action)
        )
    roots: frozenset[str] = cache[action]
    return roots


def _membership_rows(user_id: Any) -> list[tuple[str, str, str]]:
    """The user's active (role, unit region, unit name) rows, in plain SQL: every scoped
    request asks this once, and compiling the ORM's join cost more than running it."""
    membership = apps.get_model("accounts", "Membership")
    unit = apps.get_model("accounts", "AgencyUnit")
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT m."role", u."region_id", u."name" FROM "{membership._meta.db_table}" m '  # noqa: S608
            f'JOIN "{unit._meta.db_table}" u ON u."id" = m."unit_id" '
            'WHERE m."user_id" = %s AND m."active"',
            [user_id],
        )
        return [(role, region, name) for role, region, name in cursor.fetchall()]


def unit_covering(user: Any, region_code: str) -> str:
    """The name of the user's unit whose region covers ``region_code`` (as ledger entries name
    the acting unit), from the rows the scope cached: no query of its own."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    scope_roots(user, "")
    rows: list[tuple[str, str, str]] = getattr(user, _CACHE_ATTR, {}).get("", [])
    for _role, root, name in rows:
        if in_subtree(region_code, root):
            return name
    return ""


def forget_scope(user: Any) -> None:
    """Drop the cached scope after memberships change."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def user_can(user: Any, action: str, region_code: str) -> bool:
    """May ``user`` perform ``action`` on something located at ``region_code``?"""
    roots = scope_roots(user, action)
    if roots is None:
        return True
    return any(in_subtree(region_code, root) for root in roots)


class ScopedQuerySet(models.QuerySet[Any]):
    """Every scoped model's default manager is built from this (``objects = X.as_manager()``).

    The model names the path to its region code in ``scope_region_field``.
    """

    def for_user(self, user: Any, action: str) -> Self:
        roots = scope_roots(user, action)
        if roots is None:
            return self.all()
        field: str = self.model.scope_region_field
        return self.filter(subtree_q(field, sorted(roots)))

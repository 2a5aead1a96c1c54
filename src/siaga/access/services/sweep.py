"""The sweep: expired visits, overstays; the gate log's export trace; what waits for approval."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from siaga.access.choices import (
    PENDING_STATES,
    VisitState,
)
from siaga.access.models import (
    Presence,
    Visit,
)
from siaga.access.services.common import (
    _ledger,
)
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots, unit_covering
from siaga.alarms import services as alarms
from siaga.core import i18n
from siaga.core.crypto import keyed_hash
from siaga.ledger import services as ledger
from siaga.regions.codes import subtree_q
from siaga.sites.models import Site

# ---------------------------------------------------------------------------------------------
# The sweep: expired visits, overstays


def expire_visits(now: dt.datetime | None = None, *, limit: int = 500) -> int:
    """Visits never used before their planned end expire (requested or approved)."""
    now = now or timezone.now()
    due = list(
        Visit.objects.filter(state__in=PENDING_STATES, planned_end__lte=now)
        .select_related("site")
        .order_by("planned_end")[:limit]
    )
    done = 0
    for visit in due:
        with transaction.atomic():
            updated = Visit.objects.filter(pk=visit.pk, state__in=PENDING_STATES).update(
                state=VisitState.EXPIRED, updated_at=now
            )
            if updated:
                ledger.append_many(
                    [_ledger("visit.expired", visit, None, visit.site, {"from": visit.state})]
                )
                done += 1
    return done


def flag_overstays(now: dt.datetime | None = None, *, limit: int = 200) -> int:
    """Everyone still inside past the time they were expected out raises an overstay alarm
    (once; the alarm reminds on its own and clears at check-out)."""
    now = now or timezone.now()
    due = list(
        Presence.objects.filter(overstay_alarmed=False, expected_out__lt=now).values_list(
            "pk", flat=True
        )[:limit]
    )
    done = 0
    for visitor_id in due:
        with transaction.atomic():
            presence = (
                Presence.objects.select_for_update(of=("self",))
                .select_related("site", "zone", "visitor")
                .filter(pk=visitor_id, overstay_alarmed=False, expected_out__lt=now)
                .first()
            )
            if presence is None:
                continue
            late = now - presence.expected_out  # type: ignore[operator]
            alarms.raise_alarm(
                source="access",
                key=f"overstay:{presence.visitor_id}",
                kind="overstay",
                site=presence.site,
                zone=presence.zone,
                severity="warning",
                message=i18n.ngettext(
                    "%(name)s is still inside, %(minutes)s minute past the planned end",
                    "%(name)s is still inside, %(minutes)s minutes past the planned end",
                    int(late.total_seconds() // 60),
                    name=presence.visitor.name,
                    minutes=int(late.total_seconds() // 60),
                ),
                evidence=[
                    {
                        "type": "visitor",
                        "id": str(presence.visitor_id),
                        "label": presence.visitor.name,
                    }
                ],
                now=now,
            )
            presence.overstay_alarmed = True
            presence.save(update_fields=["overstay_alarmed"])
            done += 1
    return done


def _searchable(filters: dict[str, str]) -> dict[str, str]:
    """The filters as the ledger may keep them: the free-text search may be a NIK or a name,
    so it is kept as a keyed hash (the same search gives the same hash), never as typed."""
    kept = dict(filters)
    if kept.get("q"):
        kept["q"] = "hmac:" + keyed_hash(kept["q"].strip().casefold(), purpose="gate-log-search")
    return kept


def record_log_export(
    *, actor: User, filters: dict[str, str], rows: int, site: Site | None = None
) -> None:
    """A download of the gate log (names, masked NIKs) leaves its trace in the ledger."""
    with transaction.atomic():
        ledger.append(
            kind="access.log.exported",
            subject=("access.gateevent", "export"),
            actor=actor,
            unit=unit_covering(actor, site.region_id) if site else "",
            region=site.region_id if site else "",
            payload={"filters": _searchable(filters), "rows": rows},
        )


def sweep(now: dt.datetime | None = None) -> tuple[int, int]:
    return expire_visits(now), flag_overstays(now)


def approvals_waiting(user: User) -> QuerySet[Visit]:
    """Visits waiting for this person's decision: requests they host or may approve, and, for
    approvers, approved visits still waiting for the after-hours approval only they can give."""
    visits = Visit.objects.for_user(user, Action.VIEW)
    requested = Q(state=VisitState.REQUESTED)
    after_hours = Q(
        state=VisitState.APPROVED, after_hours=True, after_hours_approved_at__isnull=True
    )
    roots = scope_roots(user, Action.APPROVE_ACCESS)
    if roots is None:
        return visits.filter(requested | after_hours)
    if not roots:
        return visits.filter(requested, host=user)
    approver = subtree_q("site__region__code", sorted(roots))
    return visits.filter((requested & (Q(host=user) | approver)) | (after_hours & approver))

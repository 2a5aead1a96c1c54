"""What a warning does at the sites it covers: when it comes into force there, the site's
guards and the KPU logistics operators of its region are told (with the preventive steps)
and ``warning_in_force`` is sent; when it is cancelled, or an Update no longer covers a site,
they are told that too. Once per warning × site: an Update that continues a warning tells them
again only when it is worse.

Every message is a ``siaga.core.i18n`` tree, rendered in each recipient's language."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_noop

from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.core import i18n
from siaga.notify import services as notify
from siaga.regions.codes import covering_codes, level_of
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from siaga.weather.choices import SEVERITY_RANK, Certainty, Hazard, Severity, Urgency
from siaga.weather.models import WarningSite, WeatherWarning
from siaga.weather.signals import warning_in_force
from siaga.weather.steps import steps_text

logger = logging.getLogger("siaga.weather")

# The people who act on a warning at a site: the guards there, and those who own the logistics.
RECIPIENT_ROLES = (Role.GUARD, Role.KPU_OPERATOR)
# Warehouses, then PPK and PPS stores, then TPS: the first message of a group (the one a
# person sees, with the count of the others) names where most logistics lie.
STORES_FIRST = Case(
    *(When(site__kind=kind, then=Value(rank)) for rank, kind in enumerate(SiteKind.values)),
    default=Value(99),
    output_field=IntegerField(),
)


def recipients(site: Site) -> QuerySet[User]:
    """Guards and KPU logistics operators whose unit is the site's kabupaten or lies between
    it and the site (a kecamatan unit, the desa's)."""
    codes = [c for c in covering_codes(site.region_id) if level_of(c) >= 2]
    memberships = Membership.objects.filter(
        active=True, role__in=RECIPIENT_ROLES, user__is_active=True, unit__region_id__in=codes
    )
    return User.objects.filter(pk__in=memberships.values("user_id")).order_by("pk")


def _hazards(warning: WeatherWarning) -> i18n.Text:
    return i18n.lines(*(i18n.label(Hazard, h) for h in warning.hazards), sep=", ")


def _until(warning: WeatherWarning) -> str:
    moment = warning.expires_local
    assert moment is not None
    return f"{moment:%d-%m-%Y %H:%M} {warning.zone}"


TITLES = {
    "in_force": gettext_noop("[SIAGA] BMKG warning: %(hazards)s at %(site)s until %(until)s"),
    "escalated": gettext_noop(
        "[SIAGA] BMKG warning now worse: %(hazards)s at %(site)s until %(until)s"
    ),
    "cancelled": gettext_noop("[SIAGA] BMKG warning cancelled: %(hazards)s at %(site)s"),
    "lifted": gettext_noop("[SIAGA] BMKG warning no longer covers %(site)s: %(hazards)s"),
}


def _body(warning: WeatherWarning, step: str) -> i18n.Text:
    if step in ("cancelled", "lifted"):
        return i18n.text(
            gettext_noop(
                "BMKG no longer warns of this for the site (identifier %(identifier)s). "
                "Keep the preventive measures until the weather has cleared."
            ),
            identifier=warning.identifier,
        )
    return i18n.lines(
        i18n.text(
            gettext_noop(
                "BMKG: severity %(severity)s, urgency %(urgency)s, certainty %(certainty)s."
            ),
            severity=i18n.label(Severity, warning.severity),
            urgency=i18n.label(Urgency, warning.urgency),
            certainty=i18n.label(Certainty, warning.certainty),
        ),
        i18n.text(gettext_noop("Preventive steps now:")),
        steps_text(warning.hazards),
    )


def tell(
    covered: WarningSite,
    warning: WeatherWarning,
    step: str,
    people: dict[str, list[User]] | None = None,
) -> int:
    """One message per recipient (and their endpoints), idempotent per warning × site × step.
    ``people`` caches the recipients by region over many sites of one warning."""
    site = covered.site
    title = i18n.text(
        TITLES[step], hazards=_hazards(warning), site=site.name, until=_until(warning)
    )
    body = _body(warning, step)
    told = 0
    if people is None:
        people = {}
    if site.region_id not in people:
        people[site.region_id] = list(recipients(site))
    for user in people[site.region_id]:
        notify.notify_user(
            user,
            kind=f"weather.{step}",
            title=title,
            body=body,
            url=f"/cuaca/{warning.pk}/",
            data={
                "warning": str(warning.pk),
                "identifier": warning.identifier,
                "site": str(site.pk),
                "severity": warning.severity,
            },
            dedup_key=f"weather:{warning.pk}:{site.pk}:{step}",
            # Many sites under one warning reach one person as one delivery with a count.
            group_key=f"weather:{warning.pk}:{step}",
            about=("weather.warningsite", str(covered.pk)),
        )
        told += 1
    return told


def _previous_coverage(warning: WeatherWarning, site_id: Any) -> WarningSite | None:
    """The coverage of this site by the warning this one updates (what its people were told)."""
    return (
        WarningSite.objects.filter(
            warning__superseded_by=warning, site_id=site_id, activated_at__isnull=False
        )
        .order_by("-activated_at")
        .first()
    )


def activate(warning: WeatherWarning, *, now: datetime | None = None) -> int:
    """Bring the warning into force at each site it covers that it has not reached yet. Runs in
    the caller's transaction; nothing happens while it is not in force. Returns the sites."""
    now = now or timezone.now()
    if not warning.is_in_force(now):
        return 0
    done = 0
    people: dict[str, list[User]] = {}
    pending = (
        WarningSite.objects.select_for_update()
        .select_related("site")
        .filter(warning=warning, activated_at__isnull=True)
        .order_by(STORES_FIRST, "site__name")
    )
    for covered in pending:
        before = _previous_coverage(warning, covered.site_id)
        covered.activated_at = now
        if before is None:
            tell(covered, warning, "in_force", people)
            covered.notified_severity, covered.notified_at = warning.severity, now
        elif warning.severity_rank > SEVERITY_RANK.get(
            Severity(before.notified_severity or "Unknown"), 0
        ):
            tell(covered, warning, "escalated", people)
            covered.notified_severity, covered.notified_at = warning.severity, now
        else:
            covered.notified_severity = before.notified_severity
            covered.notified_at = before.notified_at
        covered.save(
            update_fields=["activated_at", "notified_severity", "notified_at", "updated_at"]
        )
        warning_in_force.send(
            sender=WeatherWarning,
            warning=warning,
            site=covered.site,
            update_of=before.warning if before is not None else None,
        )
        done += 1
    return done


def tell_ended(
    warning: WeatherWarning,
    *,
    step: str,
    keep: set[object] | None = None,
    now: datetime | None = None,
) -> int:
    """Tell the people of every site the warning had reached that it ended there (``cancelled``),
    or — for an Update — at the sites the update no longer covers (``lifted``; ``keep`` holds
    the sites it still covers)."""
    now = now or timezone.now()
    reached = (
        WarningSite.objects.select_for_update()
        .select_related("site")
        .filter(warning=warning, notified_at__isnull=False, ended_notified_at__isnull=True)
        .order_by(STORES_FIRST, "site__name")
    )
    done = 0
    people: dict[str, list[User]] = {}
    for covered in reached:
        if keep is not None and covered.site_id in keep:
            continue
        tell(covered, warning, step, people)
        covered.ended_notified_at = now
        covered.save(update_fields=["ended_notified_at", "updated_at"])
        done += 1
    return done


def activate_due(now: datetime | None = None) -> int:
    """Warnings whose effective time has come since they arrived: brought into force now."""
    now = now or timezone.now()
    due = (
        WeatherWarning.objects.in_force(now)
        .filter(sites__activated_at__isnull=True)
        .values_list("pk", flat=True)
        .distinct()
    )
    done = 0
    for warning_id in list(due):
        try:
            with transaction.atomic():
                warning = WeatherWarning.objects.select_for_update().get(pk=warning_id)
                done += activate(warning, now=now)
        except Exception:  # one warning's fault (a hook's, say) never holds back the others
            logger.exception("weather warning %s could not be brought into force", warning_id)
    return done

"""The one door for machine-detected trouble. Sensors, the gate, custody checks and cameras
call ``raise_alarm`` and ``clear_alarm``; people acknowledge. Each transition is a ledger
entry; a policy decides which alarms open an incident (and so escalate)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.alarms.choices import SEVERITY_RANK, AlarmSeverity
from siaga.alarms.models import Alarm, AlarmPolicy
from siaga.core import i18n
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.incidents import services as incidents
from siaga.incidents.models import Incident
from siaga.incidents.services import acting_unit
from siaga.ledger import services as ledger
from siaga.notify import services as notify
from siaga.sites.models import Site, Zone

# Who hears an alarm that opens no incident: those who can walk over and look.
RESPONDER_ROLES = (Role.GUARD, Role.KPU_OPERATOR, Role.POLICE_COMMANDER)


def _evidence(items: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    cleaned = []
    for item in items:
        if not isinstance(item, dict) or not item.get("type") or not item.get("id"):
            raise InvalidInput(
                "alarm_evidence_invalid",
                _("Each piece of evidence needs a type and an id."),
                detail={"evidence": str(item)[:200]},
            )
        kept: dict[str, str] = {k: str(item[k])[:200] for k in ("type", "id", "label") if k in item}
        cleaned.append(kept)
    return cleaned


def policy_for(source: str, kind: str, severity: str) -> AlarmPolicy | None:
    matching = [p for p in AlarmPolicy.objects.all() if p.matches(source, kind, severity)]
    return max(matching, key=lambda p: p.specificity, default=None)


def _append(alarm: Alarm, kind: str, actor: User | None, **payload: Any) -> None:
    ledger.append(
        kind=f"alarm.{kind}",
        subject=alarm,
        actor=actor,
        unit=acting_unit(actor, alarm.site.region_id),
        region=alarm.site.region_id,
        payload={
            "source": alarm.source,
            "key": alarm.key,
            "kind": alarm.kind,
            "site": str(alarm.site_id),
            "zone": str(alarm.zone_id) if alarm.zone_id else None,
            "severity": alarm.severity,
            **payload,
        },
    )


def raise_alarm(
    *,
    source: str,
    key: str,
    kind: str,
    site: Site,
    severity: str,
    message: i18n.Text,
    zone: Zone | None = None,
    evidence: Iterable[dict[str, Any]] = (),
    actor: User | None = None,
    now: datetime | None = None,
    ledger_entry: bool = True,
) -> Alarm:
    """Raise (or repeat) the alarm named by ``source`` + ``key``. While it is active a repeat
    only counts and, if worse, raises the severity: the same condition is one alarm, not
    hundreds. Runs in the caller's transaction when there is one.

    ``ledger_entry=False`` is for the one alarm about the ledger itself (a database put back
    to an older copy), which cannot be appended to: no entry, and no incident (whose timeline
    is in the ledger); its responders are told all the same."""
    if severity not in AlarmSeverity.values:
        raise InvalidInput(
            "alarm_severity_unknown",
            _("Unknown alarm severity."),
            detail={"severity": severity, "allowed": list(AlarmSeverity.values)},
        )
    if not source or not key or not kind:
        raise InvalidInput("alarm_source_required", _("An alarm needs a source, key and kind."))
    if zone is not None and zone.site_id != site.pk:
        raise InvalidInput("zone_unknown", _("No such zone at this site."))
    cleaned = _evidence(evidence)
    # A tree is shown in each reader's language; the stored text is Bahasa Indonesia.
    message_text = message if isinstance(message, dict) else {}
    message = i18n.render(message, settings.LANGUAGE_CODE)[:500]
    now = now or timezone.now()
    with transaction.atomic():
        alarm = (
            Alarm.objects.select_for_update()
            .select_related("site")
            .filter(source=source, key=key, active=True)
            .first()
        )
        if alarm is not None:
            alarm.repeats += 1
            alarm.last_raised_at = now
            alarm.message, alarm.message_text = message, message_text
            for item in cleaned:
                if item not in alarm.evidence:
                    alarm.evidence.append(item)
            worse = SEVERITY_RANK[AlarmSeverity(severity)] < alarm.rank
            if worse:
                alarm.severity = severity
            alarm.save()
            if worse and ledger_entry:
                _append(alarm, "severity_raised", actor, message=alarm.message)
            return alarm
        alarm = Alarm.objects.create(
            source=source,
            key=key,
            kind=kind,
            site=site,
            zone=zone,
            severity=severity,
            message=message,
            message_text=message_text,
            evidence=cleaned,
            first_raised_at=now,
            last_raised_at=now,
        )
        if not ledger_entry:
            _tell_responders(alarm, step="raised")
            return alarm
        _append(alarm, "raised", actor, message=alarm.message, evidence=cleaned)
        policy = policy_for(source, kind, severity)
        if policy is not None and policy.opens_incident:
            alarm.incident = incidents.open_incident_from_alarm(
                alarm,
                category=policy.incident_category,
                severity=policy.incident_severity,
                now=now,
            )
        elif policy is not None and policy.remind_minutes:
            alarm.next_reminder_at = now + timedelta(minutes=policy.remind_minutes)
        alarm.save(update_fields=["incident", "next_reminder_at", "updated_at"])
        if alarm.incident is None:
            _tell_responders(alarm, step="raised")
    return alarm


LEDGER_ROLLBACK = ("ledger", "rollback")


def raise_ledger_rollback(rollback: Any) -> Alarm | None:
    """The critical ``ledger/rollback`` alarm (``siaga.ledger.rollback`` calls it when the
    database is found behind the kept checkpoint). It stands at the instance's main site:
    ``SIAGA_LEDGER_ALARM_SITE`` (a site code), else the first warehouse by region code, else
    the first site; with no site at all there is no alarm (the refusal of every write and the
    logs still say it)."""
    from siaga.ledger.rollback import signed_on
    from siaga.sites.choices import SiteKind

    sites = Site.objects.order_by("region_id", "name")
    chosen = settings.LEDGER_ALARM_SITE
    site = (
        (sites.filter(code=chosen).first() if chosen else None)
        or sites.filter(kind=SiteKind.WAREHOUSE).first()
        or sites.first()
    )
    if site is None:
        return None
    source, kind = LEDGER_ROLLBACK
    return raise_alarm(
        source=source,
        key="rollback",
        kind=kind,
        site=site,
        severity=AlarmSeverity.CRITICAL,
        message=i18n.text(
            gettext_noop(
                "The ledger holds %(held)s entries but checkpoint %(size)s was signed on "
                "%(signed)s: the database was put back to an older copy. Writes are refused "
                "until an administrator decides (siaga ledger accept-rollback)."
            ),
            held=rollback.held_size,
            size=rollback.checkpoint_size,
            signed=signed_on(rollback),
        ),
        evidence=[{"type": "ledger.rollback", "id": str(rollback.pk)}],
        ledger_entry=False,
    )


def clear_ledger_rollback(rollback: Any, actor: Any) -> None:
    """The admin decided: the alarm clears (an ``alarm.cleared`` entry after the decision)."""
    clear_alarm(source=LEDGER_ROLLBACK[0], key="rollback", actor=actor)


def clear_alarm(
    *, source: str, key: str, actor: User | None = None, now: datetime | None = None
) -> Alarm | None:
    """The condition is over (the sensor reads dry again). Clearing what is not active is a
    no-op: a module may clear on every good reading."""
    with transaction.atomic():
        alarm = (
            Alarm.objects.select_for_update()
            .select_related("site")
            .filter(source=source, key=key, active=True)
            .first()
        )
        if alarm is None:
            return None
        return _clear(alarm, actor, now or timezone.now())


def _clear(alarm: Alarm, actor: User | None, now: datetime) -> Alarm:
    alarm.active = False
    alarm.cleared_at = now
    alarm.cleared_by = actor
    alarm.next_reminder_at = None
    alarm.save()
    _append(alarm, "cleared", actor)
    return alarm


def _visible(actor: User, alarm_id: uuid.UUID) -> Alarm:
    alarm = (
        Alarm.objects.for_user(actor, Action.VIEW)
        .select_for_update()
        .select_related("site")
        .filter(pk=alarm_id)
        .first()
    )
    if alarm is None:
        raise NotFound("alarm_not_found", _("No such alarm."), detail={"alarm": str(alarm_id)})
    if not user_can(actor, Action.RESPOND_INCIDENT, alarm.site.region_id):
        raise PermissionDenied(
            "alarm_out_of_scope",
            _("You may not handle alarms in this region."),
            detail={"region": alarm.site.region_id},
        )
    return alarm


def acknowledge_alarm(*, actor: User, alarm_id: uuid.UUID, now: datetime | None = None) -> Alarm:
    """A person in scope has seen it: reminders stop. Acknowledging twice changes nothing."""
    with transaction.atomic():
        alarm = _visible(actor, alarm_id)
        if alarm.acknowledged_at is not None:
            return alarm
        alarm.acknowledged_at = now or timezone.now()
        alarm.acknowledged_by = actor
        alarm.next_reminder_at = None
        alarm.save()
        _append(alarm, "acknowledged", actor)
    return alarm


def link_alarm(
    *, actor: User, alarm_id: uuid.UUID, incident_id: uuid.UUID, now: datetime | None = None
) -> Alarm:
    """A responder ties an alarm to the incident it belongs to (the humidity that came before
    the leak). Linking it again changes nothing; an alarm belongs to one incident."""
    with transaction.atomic():
        alarm = _visible(actor, alarm_id)
        incident = (
            Incident.objects.for_user(actor, Action.RESPOND_INCIDENT)
            .select_for_update()
            .filter(pk=incident_id)
            .first()
        )
        if incident is None:
            raise NotFound(
                "incident_not_found",
                _("No such incident."),
                detail={"incident": str(incident_id)},
            )
        if alarm.incident_id == incident.pk:
            return alarm
        if alarm.incident_id is not None:
            raise Conflict(
                "alarm_already_linked",
                _("This alarm already belongs to another incident."),
                detail={"incident": str(alarm.incident_id)},
            )
        alarm.incident = incident
        alarm.save(update_fields=["incident", "updated_at"])
        _append(alarm, "linked", actor, incident=str(incident.pk))
        incidents.record_alarm_link(incident, alarm, actor=actor, now=now)
    return alarm


def clear_alarm_by_hand(*, actor: User, alarm_id: uuid.UUID) -> Alarm:
    """A responder clears an alarm whose source cannot (a one-off trip)."""
    with transaction.atomic():
        alarm = _visible(actor, alarm_id)
        if not alarm.active:
            return alarm
        return _clear(alarm, actor, timezone.now())


def responders(site: Site) -> QuerySet[User]:
    kabupaten = ".".join(site.region_id.split(".")[:2])
    memberships = Membership.objects.filter(
        active=True, role__in=RESPONDER_ROLES, user__is_active=True
    ).filter(unit__region_id__in=[kabupaten, site.region_id])
    return User.objects.filter(pk__in=memberships.values("user_id")).order_by("pk")


def _tell_responders(alarm: Alarm, *, step: str) -> None:
    """Rendered in each responder's language when delivered (siaga.core.i18n trees)."""
    title = i18n.text(
        gettext_noop("[SIAGA] Alarm %(severity)s: %(message)s"),
        severity=i18n.label(AlarmSeverity, alarm.severity),
        message=alarm.message_text or alarm.message,
    )
    body = f"{alarm.site.name}" + (f" — {alarm.zone.name}" if alarm.zone else "")
    for user in responders(alarm.site):
        notify.notify_user(
            user,
            kind=f"alarm.{step}",
            title=title,
            body=body,
            url=f"/alarm/?site={alarm.site_id}",
            data={"alarm": str(alarm.pk), "severity": alarm.severity},
            dedup_key=f"alarm:{alarm.pk}:{step}",
            group_key=f"alarm:{alarm.source}:{alarm.key}",
            about=("alarms.alarm", str(alarm.pk)),
        )


def remind_due_alarms(now: datetime | None = None, *, limit: int = 100) -> int:
    """Reminders while an alarm is active and unacknowledged."""
    now = now or timezone.now()
    due = list(
        Alarm.objects.filter(
            active=True, acknowledged_at__isnull=True, next_reminder_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    done = 0
    for alarm_id in due:
        with transaction.atomic():
            alarm = (
                Alarm.objects.select_for_update(
                    skip_locked=connection.features.has_select_for_update_skip_locked,
                    of=("self",),
                )
                .select_related("site", "zone")
                .filter(pk=alarm_id, active=True, next_reminder_at__lte=now)
                .first()
            )
            if alarm is None:
                continue
            policy = policy_for(alarm.source, alarm.kind, alarm.severity)
            minutes = policy.remind_minutes if policy else 0
            alarm.reminders += 1
            alarm.next_reminder_at = now + timedelta(minutes=minutes) if minutes else None
            alarm.save(update_fields=["reminders", "next_reminder_at", "updated_at"])
            _tell_responders(alarm, step=f"reminder-{alarm.reminders}")
            _append(alarm, "reminded", None, reminder=alarm.reminders)
            done += 1
    return done

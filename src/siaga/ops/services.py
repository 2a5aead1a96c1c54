"""SIAGA watching itself: the readiness checks, run by the worker, become system alarms that
reach every admin in their language, and clear when the check passes again."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.core import i18n
from siaga.notify import services as notify
from siaga.ops import health
from siaga.ops.models import SystemAlarm

logger = logging.getLogger("siaga.ops")


def admins() -> list[User]:
    ids = Membership.objects.filter(active=True, role=Role.ADMIN, user__is_active=True).values(
        "user_id"
    )
    return list(User.objects.filter(pk__in=ids).order_by("pk"))


def watch(now: datetime | None = None) -> list[SystemAlarm]:
    """Run every check; raise (or repeat) an alarm for each failing one, clear the rest.
    Returns the alarms active afterwards."""
    now = now or timezone.now()
    checks = health.run_checks()
    for check in checks:
        try:
            if check.ok:
                clear(check.name, now=now)
            else:
                raise_system_alarm(check, now=now)
        except Exception:  # the database itself may be what fails: try again next round
            logger.exception("could not record the %s check's outcome", check.name)
    return list(SystemAlarm.objects.filter(active=True))


def raise_system_alarm(check: health.Check, *, now: datetime | None = None) -> SystemAlarm:
    now = now or timezone.now()
    message = i18n.render(check.message, "id")[:500]
    with transaction.atomic():
        alarm = (
            SystemAlarm.objects.select_for_update()
            .filter(check_name=check.name, active=True)
            .first()
        )
        if alarm is not None:
            alarm.repeats += 1
            alarm.last_raised_at = now
            alarm.message, alarm.detail, alarm.severity = message, check.detail, check.severity
            alarm.save()
            return alarm
        alarm = SystemAlarm.objects.create(
            check_name=check.name,
            severity=check.severity,
            message=message,
            detail=check.detail,
            first_raised_at=now,
            last_raised_at=now,
        )
        title = i18n.text(gettext_noop("[SIAGA] System alarm: %(message)s"), message=check.message)
        body = i18n.text(
            gettext_noop("Check %(check)s failed at %(at)s. The operations page has the detail."),
            check=check.name,
            at=timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
        )
        for user in admins():
            notify.notify_user(
                user,
                kind="ops.alarm",
                title=title,
                body=body,
                url="/operasi/",
                data={"check": check.name, "severity": check.severity},
                dedup_key=f"ops:{alarm.pk}",
                group_key=f"ops:{check.name}",
                about=("ops.systemalarm", str(alarm.pk)),
            )
    return alarm


def clear(check: str, *, now: datetime | None = None) -> int:
    return SystemAlarm.objects.filter(check_name=check, active=True).update(
        active=False, cleared_at=now or timezone.now()
    )

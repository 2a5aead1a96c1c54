"""What SIAGA knows of its own health: a row it writes to prove the database takes writes,
and the system alarms that the operations watch raises for the admins."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WriteProbe(models.Model):
    """One row, written by every readiness check: a database that cannot take this write (a
    full disk, a read-only file, a replica) cannot take the gate's either."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    written_at = models.DateTimeField(_("written at"))

    class Meta:
        verbose_name = _("write probe")
        verbose_name_plural = _("write probes")

    def __str__(self) -> str:
        return f"written {self.written_at:%Y-%m-%d %H:%M:%S}"


class SystemAlarm(models.Model):
    """A condition of SIAGA itself (a worker lost, the outbox stuck, the disk nearly full),
    raised while a readiness check fails and cleared when it passes again.

    The alarm service's alarms belong to a site and reach its responders; this belongs to no
    site and reaches the admins. One active row per check: a repeat counts."""

    check_name = models.CharField(_("check"), max_length=40)
    severity = models.CharField(_("severity"), max_length=10)
    message = models.CharField(_("message"), max_length=500)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    active = models.BooleanField(_("active"), default=True)
    first_raised_at = models.DateTimeField(_("first raised at"))
    last_raised_at = models.DateTimeField(_("last raised at"))
    repeats = models.PositiveIntegerField(_("times raised"), default=1)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("system alarm")
        verbose_name_plural = _("system alarms")
        ordering = ["-last_raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_name"],
                condition=models.Q(active=True),
                name="ops_one_active_alarm_per_check",
            )
        ]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.message}"

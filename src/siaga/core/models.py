from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.core.ids import uuid7


class UUIDModel(models.Model):
    """A row with a UUIDv7 key that a client may send itself, so that retries are idempotent."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True

    @property
    def uuid(self) -> uuid.UUID:
        return self.id


class TaskRun(models.Model):
    """One execution of a probe task by a worker: evidence that workers run and run once."""

    label = models.CharField(_("label"), max_length=100)
    worker_pid = models.PositiveIntegerField(_("worker process id"))
    ran_at = models.DateTimeField(_("ran at"), auto_now_add=True)

    class Meta:
        verbose_name = _("task run")
        verbose_name_plural = _("task runs")
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"{self.label} @ {self.worker_pid}"

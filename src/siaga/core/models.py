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


class WorkerHeartbeat(models.Model):
    """The last sign of life of one named ``siaga worker`` and of each thing it runs.

    One row per worker name (``--name``, default the host's name): a worker that the service
    manager restarts after a crash takes its row over. ``parts`` holds, per task loop, loop
    and periodic job, whether its last round went well, when, and the error if not.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    host = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started at"))
    beat_at = models.DateTimeField(_("last heartbeat"))
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    parts = models.JSONField(_("parts"), default=dict, blank=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.pid})"

"""What SIAGA records about its own use of personal data: every look-up of a person by NIK,
and every run of the retention purge."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet
from siaga.privacy.choices import LookupAnswer, LookupChannel


class LookupLog(models.Model):
    """One look-up of a person by NIK: who, when, the NIK's keyed hash (never the NIK), the
    answer, and the region it was asked in. Read by the data-protection officer and Bawaslu."""

    at = models.DateTimeField(_("at"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    nik_hash = models.CharField(_("NIK (keyed hash)"), max_length=80)
    answer = models.CharField(_("answer"), max_length=12, choices=LookupAnswer.choices)
    channel = models.CharField(
        _("channel"), max_length=10, choices=LookupChannel.choices, default=LookupChannel.API
    )
    region = models.CharField(_("region"), max_length=13, blank=True)
    visitor_id = models.UUIDField(_("record found"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("look-up by NIK")
        verbose_name_plural = _("look-ups by NIK")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["user", "at"], name="lookup_user_time"),
            models.Index(fields=["nik_hash", "at"], name="lookup_nik_time"),
            models.Index(fields=["region", "at"], name="lookup_region_time"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.answer} {self.at:%Y-%m-%d %H:%M}"


class PurgeRun(models.Model):
    """One run of the retention purge and what it erased."""

    at = models.DateTimeField(_("at"))
    photos = models.PositiveIntegerField(_("photos erased"), default=0)
    phones = models.PositiveIntegerField(_("phone numbers erased"), default=0)
    niks = models.PositiveIntegerField(_("NIKs erased"), default=0)
    redacted = models.PositiveIntegerField(_("ledger entries redacted"), default=0)
    signins = models.PositiveIntegerField(_("sign-in records deleted"), default=0)

    class Meta:
        verbose_name = _("retention purge")
        verbose_name_plural = _("retention purges")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M}"

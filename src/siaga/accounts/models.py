from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.permissions import role_fits_agency
from siaga.accounts.scoping import ScopedQuerySet
from siaga.core.models import UUIDModel

if TYPE_CHECKING:
    from datetime import datetime


class User(AbstractUser):
    """A person who signs in. What they may see and do comes from their memberships."""

    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # What notifications, alarm titles and timeline lines are rendered in for this person.
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=[("id", _("Bahasa Indonesia")), ("en", _("English"))],
        default="id",
        help_text=_("The language of notifications sent to this person."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Agency(models.Model):
    """One of the bodies that share SIAGA: KPU, Bawaslu, Polri, Linmas, Pemda."""

    kind = models.CharField(_("kind"), max_length=10, choices=AgencyKind.choices, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()


class AgencyUnit(models.Model):
    """An agency at a region, e.g. KPU Kabupaten OKU Timur at 16.08 or Polres OKU Timur."""

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="units", verbose_name=_("agency")
    )
    region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="agency_units",
        verbose_name=_("region"),
    )
    name = models.CharField(_("name"), max_length=150)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region__code"

    class Meta:
        verbose_name = _("agency unit")
        verbose_name_plural = _("agency units")
        ordering = ["region_id", "agency__kind"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "region"], name="unit_one_per_agency_region")
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role in a unit; the unit's region bounds everything the role allows."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    unit = models.ForeignKey(
        AgencyUnit, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("unit")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    # The post within the role, as escalation tiers name it: "Kapolres", "Kabag Ops", "Ketua".
    position = models.CharField(_("position"), max_length=60, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "unit__region__code"

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit"], name="membership_one_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} — {self.unit}"

    def clean(self) -> None:
        if self.unit_id and not role_fits_agency(self.role, self.unit.agency.kind):
            raise ValidationError(
                {"role": _("This role does not exist in this agency.")}, code="role_agency"
            )


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough; no slow hash needed.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(UUIDModel):
    """A bearer token for a device or a script; only its hash is kept."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class SignInEventKind(models.TextChoices):
    SIGNED_IN = "signed_in", _("signed in")
    FAILED = "failed", _("sign-in failed")
    REFUSED_LOCKED = "refused_locked", _("refused: locked")
    SECOND_FACTOR_PASSED = "otp_passed", _("second factor passed")
    SECOND_FACTOR_FAILED = "otp_failed", _("second factor failed")
    TOKEN_ISSUED = "token_issued", _("API token issued")
    TWO_FACTOR_ENABLED = "2fa_enabled", _("second factor enabled")
    TWO_FACTOR_DISABLED = "2fa_disabled", _("second factor disabled")
    RECOVERY_CODES_REGENERATED = "recovery_codes", _("recovery codes regenerated")
    PASSWORD_CHANGED = "password_changed", _("password changed")
    PASSWORD_RESET_REQUESTED = "reset_requested", _("password reset requested")
    SIGNED_OUT = "signed_out", _("signed out")


class SignInEvent(models.Model):
    """One sign-in outcome or account-security change: who (as typed), from where, when.

    Kept for the audit (SIAGA_SIGNIN_LOG_RETENTION_DAYS), never written to the console; the
    lock itself is django-axes' (``AccessAttempt``), this table is the record.
    """

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=SignInEventKind.choices)
    user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sign_in_events",
        verbose_name=_("user"),
    )
    # What was typed, also for names that match no account (spraying shows up here).
    username = models.CharField(_("username"), max_length=150, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True, db_index=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    channel = models.CharField(_("channel"), max_length=10, blank=True)  # web, api, admin
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("sign-in event")
        verbose_name_plural = _("sign-in events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username}"

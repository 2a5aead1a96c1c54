from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ItemCategory(models.TextChoices):
    BALLOT = "ballot", _("Ballot paper")
    BOX = "box", _("Ballot box")
    BOOTH = "booth", _("Voting booth")
    INK = "ink", _("Ink")
    SEAL = "seal", _("Plastic seal")
    SEAL_STICKER = "seal_sticker", _("Seal sticker")
    FORM = "form", _("Form set")
    ENVELOPE = "envelope", _("Envelope")
    BRAILLE = "braille", _("Braille template")
    OTHER = "other", _("Other")


class NeedBasis(models.TextChoices):
    PER_VOTER = "per_voter", _("Per voter, with a reserve per TPS")
    PER_TPS = "per_tps", _("Fixed per TPS")
    PER_DISTRICT = "per_district", _("Per electoral district")


class PackageKind(models.TextChoices):
    BOX = "box", _("Box")
    BUNDLE = "bundle", _("Bundle")


class PackageState(models.TextChoices):
    PACKED = "packed", _("Packed")
    IN_TRANSIT = "in_transit", _("In transit")
    RECEIVED = "received", _("Received")
    OPENED = "opened", _("Opened")
    VOID = "void", _("Void")


class SealState(models.TextChoices):
    APPLIED = "applied", _("Applied")
    VERIFIED = "verified", _("Verified")
    BROKEN = "broken", _("Broken")
    VOID = "void", _("Void")


class Leg(models.TextChoices):
    """Which way a handover goes: down the chain before voting, back up after it."""

    OUTBOUND = "outbound", _("Outbound (towards the TPS)")
    RETURN = "return", _("Return (after voting)")


class HandoverState(models.TextChoices):
    DISPATCHED = "dispatched", _("Dispatched, awaiting receipt")
    RECEIVED = "received", _("Received complete")
    DISCREPANT = "discrepant", _("Received with discrepancies")


class DiscrepancyKind(models.TextChoices):
    SHORTFALL = "shortfall", _("Shortfall")
    DAMAGED = "damaged", _("Damaged")
    MISSING_PACKAGE = "missing_package", _("Package missing")
    EXTRA_PACKAGE = "extra_package", _("Package not on the BAST")
    WRONG_DESTINATION = "wrong_destination", _("Wrong destination")
    SEAL_MISMATCH = "seal_mismatch", _("Seal mismatch")


class DiscrepancyState(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class ScanAction(models.TextChoices):
    RECEIVE = "receive", _("Receive a package")
    SEAL = "seal", _("Verify a seal")

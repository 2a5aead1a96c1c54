"""The ledger's tables. Rows are written only by ``services.append`` and never updated."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import ScopedQuerySet
from siaga.ledger.encoding import format_time

# A stored perfect subtree is keyed by level and index in one integer.
LEVEL_SHIFT = 48


def node_key(level: int, index: int) -> int:
    return (level << LEVEL_SHIFT) | index


class Entry(models.Model):
    """One custody-relevant fact, in the order it happened. Append-only."""

    seq = models.BigIntegerField(_("sequence number"), primary_key=True)
    entry_id = models.UUIDField(_("client id"), unique=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    actor = models.CharField(_("actor"), max_length=150, blank=True)
    unit = models.CharField(_("agency unit"), max_length=150, blank=True)
    region = models.CharField(_("region code"), max_length=13, blank=True)
    kind = models.CharField(_("kind"), max_length=60)
    subject_type = models.CharField(_("subject type"), max_length=60)
    subject_id = models.CharField(_("subject id"), max_length=64)
    payload = models.TextField(_("payload (canonical JSON)"))
    # SHA-256(salt ‖ canonical personal JSON) in hex, only on an entry with a personal part
    # (``PersonalPart``); NULL otherwise, so the record of every other entry keeps its bytes.
    personal_hash = models.CharField(  # noqa: DJ001 - NULL is "no part", not an empty hash
        _("personal part hash"), max_length=64, null=True
    )
    leaf_hash = models.BinaryField(_("leaf hash"), max_length=32)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["seq"]
        # One index per way entries are looked up, no more: every custody event adds a row, and
        # each index is written with it. A region is asked for as itself or by its code's prefix
        # (a subtree): one index with the pattern operator class (PostgreSQL) serves both.
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="entry_subject"),
            models.Index(fields=["kind"], name="entry_kind"),
            models.Index(fields=["region"], name="entry_region", opclasses=["varchar_pattern_ops"]),
            # Only entries with a personal part, so that the common append writes nothing here
            # and verify finds those parts' entries without reading the table.
            models.Index(
                fields=["seq"],
                name="entry_with_personal",
                condition=models.Q(personal_hash__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"

    @property
    def time(self) -> str:
        return format_time(self.recorded_at)

    def record(self) -> dict[str, Any]:
        """The entry as the JSON object whose canonical bytes are hashed."""
        record = {
            "seq": self.seq,
            "id": str(self.entry_id),
            "time": self.time,
            "actor": self.actor,
            "unit": self.unit,
            "region": self.region,
            "kind": self.kind,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "payload": json.loads(self.payload),
        }
        if self.personal_hash is not None:
            record["personal_hash"] = self.personal_hash
        return record

    def personal_facts(self) -> dict[str, Any] | None:
        """The personal part as it lies beside the chain; None when there is none, or when it
        was erased (``redaction`` says when and why). Needs ``personal_part`` loaded or loads it."""
        part = getattr(self, "personal_part", None) if self.personal_hash is not None else None
        if part is None or part.redacted or not part.data:
            return None
        facts: dict[str, Any] = json.loads(part.data)
        return facts

    def redaction(self) -> dict[str, Any] | None:
        """What was erased of this entry, when, by whom and why, and the ``ledger.redacted``
        entry that records it: its personal part, or (an entry of an older version) secrets or
        identifiers scrubbed from its payload. None when nothing was."""
        part = getattr(self, "personal_part", None) if self.personal_hash is not None else None
        if part is not None and part.redacted:
            return {
                "what": "personal_part",
                "at": part.redacted_at,
                "by": part.redacted_by,
                "reason": part.redaction_reason,
                "seq": part.redaction_seq,
            }
        scrub = getattr(self, "payload_redaction", None)
        if scrub is not None:
            return {
                "what": "payload",
                "at": scrub.redacted_at,
                "by": scrub.redacted_by,
                "reason": scrub.redaction_reason,
                "seq": scrub.redaction_seq,
            }
        return None


class PersonalPart(models.Model):
    """The erasable personal part of an entry, beside the chain: the entry's record holds only
    ``personal_hash``, a salted hash of it. Redacting blanks the salt, the data and the person
    key and keeps when, why and by whom; the entry and its leaf stay as they are."""

    entry = models.OneToOneField(
        Entry,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="personal_part",
        db_column="seq",
        verbose_name=_("ledger entry"),
    )
    salt = models.BinaryField(_("salt"), max_length=32, null=True)
    data = models.TextField(_("personal facts (canonical JSON)"), blank=True)
    # An opaque key (a keyed hash of the NIK) that finds every part of one person for erasure.
    person = models.CharField(_("person key"), max_length=128, blank=True, db_index=True)
    redacted_at = models.DateTimeField(_("redacted at"), null=True)
    redaction_reason = models.CharField(_("reason for redaction"), max_length=300, blank=True)
    redacted_by = models.CharField(_("redacted by"), max_length=150, blank=True)
    # The ``ledger.redacted`` entry that records the redaction.
    redaction_seq = models.BigIntegerField(_("redaction entry"), null=True)

    class Meta:
        verbose_name = _("personal part")
        verbose_name_plural = _("personal parts")

    def __str__(self) -> str:
        return f"personal part of #{self.entry_id}"

    @property
    def redacted(self) -> bool:
        return self.redacted_at is not None


class PayloadRedaction(models.Model):
    """A legacy entry whose payload held what the ledger now refuses (a secret, a full NIK),
    written before the refusal. Its payload column was replaced by a scrubbed copy; its
    original leaf hash, still in the tree under every checkpoint, is its commitment. The
    ``ledger.redacted`` entry that did it lists the seq and the SHA-256 of the scrubbed record,
    so the scrubbed text cannot be changed again unseen (see docs/ledger.md)."""

    entry = models.OneToOneField(
        Entry,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="payload_redaction",
        db_column="seq",
        verbose_name=_("ledger entry"),
    )
    leaf_hash = models.BinaryField(_("original leaf hash"), max_length=32)
    record_sha256 = models.CharField(_("SHA-256 of the scrubbed record"), max_length=64)
    redacted_at = models.DateTimeField(_("redacted at"))
    redaction_reason = models.CharField(_("reason for redaction"), max_length=300)
    redacted_by = models.CharField(_("redacted by"), max_length=150, blank=True)
    redaction_seq = models.BigIntegerField(_("redaction entry"))

    class Meta:
        verbose_name = _("redacted payload")
        verbose_name_plural = _("redacted payloads")

    def __str__(self) -> str:
        return f"redacted payload of #{self.entry_id}"


class Node(models.Model):
    """The hash of a perfect subtree of level ≥ 1 (leaf hashes live on the entries)."""

    key = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = _("tree node")
        verbose_name_plural = _("tree nodes")

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"

    @property
    def level(self) -> int:
        return self.key >> LEVEL_SHIFT

    @property
    def index(self) -> int:
        return self.key & ((1 << LEVEL_SHIFT) - 1)


class Head(models.Model):
    """The one row that appenders lock: the next sequence number is ``size``."""

    size = models.BigIntegerField(default=0)
    # Set while the database is behind the checkpoint kept outside it (a ``Rollback`` not yet
    # decided): appenders read it with the lock they take anyway, and refuse. A database default,
    # so that rows written without it (the data migration that makes the head) are not held.
    held = models.BooleanField(_("writes held"), default=False, db_default=False)

    class Meta:
        verbose_name = _("ledger head")

    def __str__(self) -> str:
        return f"ledger of {self.size}"


class Checkpoint(models.Model):
    """A signed tree head: size, root and time, as a signed note."""

    size = models.BigIntegerField(_("tree size"), unique=True)
    root_hash = models.BinaryField(_("root hash"), max_length=32)
    signed_at = models.DateTimeField(_("signed at"))
    note = models.TextField(_("signed note"))

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ["-size"]

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class WitnessKey(models.Model):
    """A witness's public key (held by a Bawaslu supervisor or an offline key holder)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="witness_keys",
        verbose_name=_("holder"),
    )
    name = models.CharField(_("key name"), max_length=100, unique=True)
    public_key = models.BinaryField(_("public key"), max_length=32)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("witness key")
        verbose_name_plural = _("witness keys")

    def __str__(self) -> str:
        return self.name


class Cosignature(models.Model):
    """A witness's signature on a checkpoint it verified as consistent with its last one."""

    checkpoint = models.ForeignKey(
        Checkpoint, on_delete=models.PROTECT, related_name="cosignatures"
    )
    witness = models.ForeignKey(WitnessKey, on_delete=models.PROTECT, related_name="cosignatures")
    signature_line = models.TextField(_("signature line"))
    cosigned_at = models.DateTimeField(_("co-signed at"))

    class Meta:
        verbose_name = _("co-signature")
        verbose_name_plural = _("co-signatures")
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "witness"], name="cosign_once")
        ]

    def __str__(self) -> str:
        return f"{self.witness} on {self.checkpoint}"


class Rollback(models.Model):
    """The database found behind the signed checkpoint kept outside it (under SIAGA_HOME): it
    was put back to an older copy. Until an admin decides, appends are refused (``Head.held``);
    the decision is a ``ledger.rollback_accepted`` entry at ``checkpoint_size``, and the lost
    entries ``held_size``..``checkpoint_size - 1`` are known from then on only through
    ``frontier``, the roots of the perfect subtrees of the checkpoint's tree."""

    detected_at = models.DateTimeField(_("detected at"))
    held_size = models.BigIntegerField(_("entries the database held"))
    # The database's tree at the checkpoint's size has another root: not only behind, forked.
    forked = models.BooleanField(_("forked"), default=False)
    checkpoint_size = models.BigIntegerField(_("checkpoint tree size"))
    checkpoint_root = models.BinaryField(_("checkpoint root hash"), max_length=32)
    checkpoint_signed_at = models.DateTimeField(_("checkpoint signed at"))
    checkpoint_note = models.TextField(_("signed checkpoint"))
    # [{"witness": vkey, "signature_line": ..., "cosigned_at": ...}] as the file kept them.
    cosignatures = models.JSONField(_("co-signatures"), default=list, blank=True)
    # Hex hashes of merkle.right_edge(checkpoint_size), largest subtree first.
    frontier = models.JSONField(_("frontier"), default=list)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    decision_seq = models.BigIntegerField(_("decision entry"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger rollback")
        verbose_name_plural = _("ledger rollbacks")
        ordering = ["detected_at"]

    def __str__(self) -> str:
        return f"rollback to {self.held_size} behind checkpoint {self.checkpoint_size}"

    @property
    def lost(self) -> range:
        return range(self.held_size, self.checkpoint_size)

"""The ledger's handles on a person, for the gate and the retention purge.

A person's name and organisation are *personal*: the ledger keeps them beside its chain where
they can be redacted (UU PDP's right to erasure) without breaking verification, tagged with the
person's pseudonym (``person_ref``: a keyed hash of the NIK) so that erasure finds them
(docs/ledger.md, "The personal part of an entry")."""

from __future__ import annotations

from typing import Any

from siaga.core.crypto import keyed_hash
from siaga.ledger import services as ledger


def person_ref(nik: str) -> str:
    """The ledger's pseudonym of a person: the same for every region's record of them."""
    return keyed_hash(nik, purpose="person")


def redact_person(ref: str, *, reason: str, actor: Any) -> int:
    """Redact the personal parts of every entry about the person; how many were erased."""
    return ledger.redact(person=ref, reason=reason, actor=actor)

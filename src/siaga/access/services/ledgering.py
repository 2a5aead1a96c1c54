"""The gate's one door to the ledger for facts about a person.

A person's name and organisation are *personal*: the ledger keeps them beside its chain where
they can be redacted (UU PDP's right to erasure) without breaking verification, tagged with the
person's pseudonym (``person_ref``: a keyed hash of the NIK) so that erasure finds them
(docs/ledger.md, "The personal part of an entry")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from siaga.core.crypto import keyed_hash
from siaga.ledger import services as ledger
from siaga.ledger.models import Entry


def person_ref(nik: str) -> str:
    """The ledger's pseudonym of a person: the same for every region's record of them."""
    return keyed_hash(nik, purpose="person")


def fact(
    *,
    kind: str,
    subject_type: str,
    subject_id: str,
    payload: dict[str, Any],
    actor: str = "",
    unit: str = "",
    region: str = "",
    personal: dict[str, Any] | None = None,
    person: str = "",
) -> ledger.Fact:
    return ledger.Fact(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=payload,
        actor=actor,
        unit=unit,
        region=region,
        personal=personal or None,
        person=person,
    )


def append(
    *,
    kind: str,
    subject: Any,
    payload: dict[str, Any],
    actor: Any = None,
    unit: Any = None,
    region: str = "",
    personal: dict[str, Any] | None = None,
    person: str = "",
) -> Entry:
    return ledger.append(
        kind=kind,
        subject=subject,
        payload=payload,
        actor=actor,
        unit=unit,
        region=region,
        personal=personal or None,
        person=person,
    )


def append_many(facts: Sequence[ledger.Fact]) -> list[Entry]:
    return ledger.append_many(facts)


def redact_person(ref: str, *, reason: str, actor: Any) -> int:
    """Redact the personal parts of every entry about the person; how many were erased."""
    return ledger.redact(person=ref, reason=reason, actor=actor)

"""The gate's one door to the ledger for facts about a person.

A person's name and organisation are *personal*: the ledger keeps them beside its chain where
they can be redacted (UU PDP's right to erasure) without breaking verification, tagged with the
person's pseudonym (``person_ref``: a keyed hash of the NIK) so that erasure finds them. The
ledger's ``personal=``/``person=`` arguments and ``redact`` arrive with the redactable-leaf
change; until then this adapter appends without the personal part (the name is then simply not
kept in the ledger) and erasure redacts nothing."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Sequence
from typing import Any

from siaga.core.crypto import keyed_hash
from siaga.ledger import services as ledger
from siaga.ledger.models import Entry


def person_ref(nik: str) -> str:
    """The ledger's pseudonym of a person: the same for every region's record of them."""
    return keyed_hash(nik, purpose="person")


@functools.cache
def _fact_takes_personal() -> bool:
    names = {f.name for f in dataclasses.fields(ledger.Fact)}
    return {"personal", "person"} <= names


@functools.cache
def _append_takes_personal() -> bool:
    parameters = inspect.signature(ledger.append).parameters
    return "personal" in parameters and "person" in parameters


def supports_redaction() -> bool:
    """Does the ledger in this build keep personal parts apart and redact them?"""
    return callable(getattr(ledger, "redact", None)) and _fact_takes_personal()


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
    extra: dict[str, Any] = {}
    if _fact_takes_personal() and (personal or person):
        extra = {"personal": personal or None, "person": person}
    return ledger.Fact(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=payload,
        actor=actor,
        unit=unit,
        region=region,
        **extra,
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
    extra: dict[str, Any] = {}
    if _append_takes_personal() and (personal or person):
        extra = {"personal": personal or None, "person": person}
    return ledger.append(
        kind=kind, subject=subject, payload=payload, actor=actor, unit=unit, region=region, **extra
    )


def append_many(facts: Sequence[ledger.Fact]) -> list[Entry]:
    return ledger.append_many(facts)


def redact_person(ref: str, *, reason: str, actor: Any) -> int | None:
    """Redact the personal parts of every entry about the person; ``None`` when this build's
    ledger cannot (nothing personal was kept there then)."""
    redact = getattr(ledger, "redact", None)
    if not callable(redact):
        return None
    return int(redact(person=ref, reason=reason, actor=actor))

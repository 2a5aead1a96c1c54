from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.core.errors import InvalidInput, NotFound
from siaga.core.schemas import ErrorOut
from siaga.ledger import keys, services
from siaga.ledger.encoding import b64
from siaga.ledger.models import Checkpoint, Cosignature, Entry

router = Router(tags=["ledger"])
MAX_PAGE = 1000


class KeyOut(Schema):
    origin: str
    verifier_key: str = Field(..., description="name+keyid+base64(0x01 ‖ Ed25519 public key)")


class CosignatureOut(Schema):
    witness: str
    holder: str
    signature_line: str
    cosigned_at: datetime


class CheckpointOut(Schema):
    tree_size: int
    root_hash: str
    signed_at: datetime
    note: str
    cosignatures: list[CosignatureOut]


class RedactionOut(Schema):
    what: str = Field(
        ...,
        description="`personal_part` (erased), or `payload` (an older version's secret scrubbed)",
    )
    at: datetime
    by: str
    reason: str
    seq: int = Field(..., description="the ledger.redacted entry that records it")


class EntryOut(Schema):
    seq: int
    id: str
    time: str
    actor: str
    unit: str
    region: str
    kind: str
    subject_type: str
    subject_id: str
    payload: Any
    personal_hash: str | None = Field(
        None, description="in the hashed record only when the entry has a personal part"
    )
    personal: dict[str, Any] | None = Field(
        None, description="the personal part beside the chain; null when none or erased"
    )
    redaction: RedactionOut | None = None
    leaf_hash: str


class EntryFilter(Schema):
    start: int = Field(0, ge=0)
    end: int | None = Field(None, ge=0, description="exclusive; at most 1000 after start")
    kind: str | None = Field(None, max_length=60)
    subject_type: str | None = Field(None, max_length=60)
    subject_id: str | None = Field(None, max_length=64)


class InclusionOut(Schema):
    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyOut(Schema):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class WitnessKeyIn(Schema):
    verifier_key: str = Field(..., max_length=300)


class WitnessKeyOut(Schema):
    name: str
    holder: str
    created_at: datetime


class CosignatureIn(Schema):
    tree_size: int = Field(..., ge=1)
    signature_line: str = Field(..., max_length=300)


def cosignature_out(c: Cosignature) -> CosignatureOut:
    return CosignatureOut(
        witness=c.witness.name,
        holder=c.witness.user.get_username(),
        signature_line=c.signature_line,
        cosigned_at=c.cosigned_at,
    )


def entry_out(e: Entry) -> EntryOut:
    redaction = e.redaction()
    return EntryOut(
        **e.record(),
        personal=e.personal_facts(),
        redaction=RedactionOut(**redaction) if redaction else None,
        leaf_hash=b64(e.leaf_hash),
    )


@router.get("/key", response=KeyOut, auth=None, summary="The instance's public key")
def get_key(request: HttpRequest) -> KeyOut:
    return KeyOut(origin=keys.origin(), verifier_key=keys.instance_verifier_key())


@router.get(
    "/checkpoint",
    response={200: CheckpointOut, 404: ErrorOut},
    auth=None,
    summary="The latest signed checkpoint with its witness co-signatures",
)
def latest_checkpoint(request: HttpRequest) -> CheckpointOut:
    checkpoint = Checkpoint.objects.order_by("-size").first()
    if checkpoint is None:
        raise NotFound("checkpoint_not_found", _("No checkpoint has been signed yet."))
    cosignatures = checkpoint.cosignatures.select_related("witness__user")
    return CheckpointOut(
        tree_size=checkpoint.size,
        root_hash=b64(checkpoint.root_hash),
        signed_at=checkpoint.signed_at,
        note=checkpoint.note,
        cosignatures=[cosignature_out(c) for c in cosignatures],
    )


@router.get(
    "/entries",
    response={200: list[EntryOut], 401: ErrorOut, 422: ErrorOut},
    summary="Entries in your region, by sequence range",
)
def list_entries(request: HttpRequest, filters: Query[EntryFilter]) -> list[EntryOut]:
    end = filters.start + MAX_PAGE if filters.end is None else filters.end
    if end < filters.start or end - filters.start > MAX_PAGE:
        raise InvalidInput(
            "entry_range_invalid",
            _("Ask for at most 1000 entries, with end after start."),
            detail={"start": filters.start, "end": end},
        )
    entries = Entry.objects.for_user(actor_of(request), Action.VIEW).filter(
        seq__gte=filters.start, seq__lt=end
    )
    for name in ("kind", "subject_type", "subject_id"):
        value = getattr(filters, name)
        if value:
            entries = entries.filter(**{name: value})
    entries = entries.select_related("personal_part", "payload_redaction")
    return [entry_out(e) for e in entries.order_by("seq")]


@router.get(
    "/proof/inclusion",
    # 409 ledger_range_lost: the proof needs entries lost in an accepted rollback.
    response={200: InclusionOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="RFC 9162 inclusion proof of one entry in a tree size",
)
def inclusion(request: HttpRequest, index: int, tree_size: int) -> InclusionOut:
    proof = services.inclusion_proof(index, tree_size)
    entry = Entry.objects.for_user(actor_of(request), Action.VIEW).filter(seq=index).first()
    if entry is None:
        raise NotFound("entry_not_found", _("No such entry in your region."))
    return InclusionOut(
        index=index,
        tree_size=tree_size,
        leaf_hash=b64(entry.leaf_hash),
        root_hash=b64(services.root_hash(tree_size)),
        proof=[b64(p) for p in proof],
    )


@router.get(
    "/proof/consistency",
    # 409 ledger_smaller_than_checkpoint (first is past the ledger's size: a witness holding a
    # checkpoint of a database since put back), or ledger_range_lost.
    response={200: ConsistencyOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="RFC 9162 consistency proof between two tree sizes",
)
def consistency(request: HttpRequest, first: int, second: int) -> ConsistencyOut:
    proof = services.consistency_proof(first, second)
    return ConsistencyOut(
        first=first,
        second=second,
        first_root=b64(services.root_hash(first)),
        second_root=b64(services.root_hash(second)),
        proof=[b64(p) for p in proof],
    )


@router.post(
    "/witness-keys",
    response={201: WitnessKeyOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Register your witness key (Bawaslu)",
)
def register_witness_key(request: HttpRequest, payload: WitnessKeyIn) -> Status[WitnessKeyOut]:
    actor = actor_of(request)
    witness = services.register_witness_key(actor=actor, vkey=payload.verifier_key)
    return Status(
        201,
        WitnessKeyOut(name=witness.name, holder=actor.username, created_at=witness.created_at),
    )


@router.post(
    "/cosignatures",
    response={
        201: CosignatureOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Co-sign a checkpoint you verified as consistent with your last one",
)
def add_cosignature(request: HttpRequest, payload: CosignatureIn) -> Status[CosignatureOut]:
    cosignature = services.add_cosignature(
        actor=actor_of(request), size=payload.tree_size, signature_line=payload.signature_line
    )
    return Status(201, cosignature_out(cosignature))

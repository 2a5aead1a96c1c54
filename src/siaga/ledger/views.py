"""The ledger page: latest checkpoint, witnesses, entries, and a proof checked in the browser."""

from __future__ import annotations

import hashlib
import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from siaga.accounts.auth import actor_of
from siaga.accounts.permissions import Action
from siaga.ledger import keys, merkle, services
from siaga.ledger.encoding import b64
from siaga.ledger.models import Checkpoint, Entry


@login_required
def index(request: HttpRequest) -> HttpResponse:
    entries = Entry.objects.for_user(actor_of(request), Action.VIEW)
    kinds = sorted(set(entries.values_list("kind", flat=True).distinct()))
    kind = request.GET.get("kind", "")
    subject_type = request.GET.get("subject_type", "").strip()[:60]
    subject_id = request.GET.get("subject_id", "").strip()[:64]
    if kind:
        entries = entries.filter(kind=kind)
    if subject_type:
        entries = entries.filter(subject_type=subject_type)
    if subject_id:
        entries = entries.filter(subject_id=subject_id)
    page = Paginator(entries.order_by("-seq"), 50).get_page(request.GET.get("page"))
    checkpoint = Checkpoint.objects.order_by("-size").first()
    tree_size = services.tree_size()
    context = {
        "checkpoint": checkpoint,
        "root": b64(checkpoint.root_hash) if checkpoint else "",
        "cosignatures": checkpoint.cosignatures.select_related("witness__user")
        if checkpoint
        else [],
        "tree_size": tree_size,
        "uncovered": tree_size - checkpoint.size if checkpoint else 0,
        "verifier_key": keys.instance_verifier_key(),
        "page": page,
        "kinds": kinds,
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": subject_id,
    }
    template = "ledger/_entries.html" if request.htmx else "ledger/index.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _subject_url(entry: Entry) -> str:
    """A link to the subject's own page, where one exists."""
    if entry.subject_type == "sites.site":
        return reverse("sites:detail", args=[entry.subject_id])
    return ""


@login_required
def entry_detail(request: HttpRequest, seq: int) -> HttpResponse:
    entry = (
        Entry.objects.for_user(actor_of(request), Action.VIEW)
        .select_related("personal_part", "payload_redaction")
        .filter(seq=seq)
        .first()
    )
    if entry is None:
        raise Http404
    checkpoint = Checkpoint.objects.filter(size__gt=seq).order_by("-size").first()
    proof: list[bytes] = []
    server_check = ""
    canonical = services.entry_bytes_fast(entry)
    redaction = entry.redaction()
    # An older version's entry whose payload was scrubbed: the tree holds its original leaf,
    # kept beside it, and the ledger.redacted entry holds the SHA-256 of the scrubbed record.
    scrubbed = getattr(entry, "payload_redaction", None)
    if checkpoint is not None:
        proof = services.inclusion_proof(seq, checkpoint.size)
        try:
            if scrubbed is not None:
                if hashlib.sha256(canonical).hexdigest() != scrubbed.record_sha256:
                    raise merkle.ProofError("the scrubbed record was changed")
                leaf = bytes(scrubbed.leaf_hash)
            else:
                # From the entry's fields as stored now, not from its stored leaf hash.
                leaf = merkle.leaf_hash(canonical)
            merkle.verify_inclusion(seq, checkpoint.size, leaf, proof, bytes(checkpoint.root_hash))
            server_check = "ok"
        except merkle.ProofError:
            server_check = "failed"
    personal = entry.personal_facts()
    context = {
        "entry": entry,
        "subject_url": _subject_url(entry),
        "payload": json.dumps(json.loads(entry.payload), indent=2, ensure_ascii=False),
        "canonical": canonical.decode(),
        "personal": json.dumps(personal, indent=2, ensure_ascii=False) if personal else "",
        "redaction": redaction,
        "scrubbed": scrubbed is not None,
        "leaf": b64(entry.leaf_hash),
        "checkpoint": checkpoint,
        "root": b64(checkpoint.root_hash) if checkpoint else "",
        "proof": [b64(p) for p in proof],
        "proof_json": json.dumps([b64(p) for p in proof]),
        "server_check": server_check,
    }
    return render(request, "ledger/entry.html", context)

"""Scrub what entries written before the ledger's redaction list hold: admin change records
with ``password1``/``password2``/``password``, gate-log exports whose search ``q`` was a NIK,
visitor payloads under ``nik``. See ``siaga.ledger.legacy`` and docs/ledger.md.

A data migration never imports app models: it appends its one ``ledger.redacted`` entry with
the historical models and the ledger's pure encoding and Merkle modules (the very definition of
a leaf, which cannot change without breaking every ledger anyway). ``siaga ledger clean-legacy``
does the same later, through ``services.append``, should older data be restored.
"""

import uuid

from django.db import migrations
from django.utils import timezone

from siaga.ledger import legacy, merkle
from siaga.ledger.encoding import canonical_entry, canonical_json, format_time

LEVEL_SHIFT = 48


def clean_legacy_payloads(apps, schema_editor):
    Entry = apps.get_model("ledger", "Entry")
    Node = apps.get_model("ledger", "Node")
    Head = apps.get_model("ledger", "Head")
    PayloadRedaction = apps.get_model("ledger", "PayloadRedaction")
    head = Head.objects.select_for_update().filter(pk=1).first()
    if head is None or head.size == 0:
        return

    def read(key):
        level, index = key
        if level == 0:
            return bytes(Entry.objects.values_list("leaf_hash", flat=True).get(seq=index))
        return bytes(
            Node.objects.values_list("hash", flat=True).get(key=(level << LEVEL_SHIFT) | index)
        )

    def append_redaction(payload):
        size = head.size
        now = timezone.now()
        entry_id = uuid.uuid4()
        text = canonical_json(payload).decode()
        regions = set(
            Entry.objects.filter(seq__in=payload["seqs"]).values_list("region", flat=True)
        )
        region = _common_region(regions)
        leaf = merkle.leaf_hash(
            canonical_entry(
                seq=size,
                id=str(entry_id),
                time=format_time(now),
                actor="",
                unit="",
                region=region,
                kind=legacy.REDACTED_KIND,
                subject_type="ledger.entry",
                subject_id="legacy",
                payload=text,
            )
        )
        nodes = merkle.perfect_nodes_after_append(size, leaf, read)
        Entry.objects.create(
            seq=size,
            entry_id=entry_id,
            recorded_at=now,
            actor="",
            unit="",
            region=region,
            kind=legacy.REDACTED_KIND,
            subject_type="ledger.entry",
            subject_id="legacy",
            payload=text,
            leaf_hash=leaf,
        )
        Node.objects.bulk_create(
            [
                Node(key=(level << LEVEL_SHIFT) | index, hash=value)
                for (level, index), value in nodes
                if level > 0
            ]
        )
        head.size = size + 1
        head.save(update_fields=["size"])
        return size, now

    legacy.clean(legacy.Models(Entry, PayloadRedaction), head.size, append_redaction)


def _common_region(regions):
    common = None
    for region in regions:
        parts = region.split(".") if region else []
        if common is None:
            common = parts
        else:
            length = 0
            while length < min(len(common), len(parts)) and common[length] == parts[length]:
                length += 1
            common = common[:length]
    return ".".join(common or [])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_personal_parts")]

    operations = [migrations.RunPython(clean_legacy_payloads, migrations.RunPython.noop)]

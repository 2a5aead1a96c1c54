"""Move every visitor into the new shape: a ``Person`` per NIK (the NIK encrypted, its keyed
hash to find it), and one record per Kabupaten/Kota that saw the person (on a visit or with a
pass). The record keeps its id in the region that saw the person first; each other region gets
a copy of what was known, and its visits, passes, gate events and presence point to it.
Phones and photos are encrypted on the way."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.models import Q

from siaga.core.crypto import keyed_hash
from siaga.core.ids import uuid7

BATCH = 500


def _region(code: str) -> str:
    return ".".join(code.split(".")[:2]) if code else ""


def _masked(nik: str) -> str:
    return f"{nik[:4]}{'*' * 8}{nik[12:]}"


def forwards(apps: Any, schema_editor: Any) -> None:
    visitor_model = apps.get_model("access", "Visitor")
    person_model = apps.get_model("access", "Person")
    visit_model = apps.get_model("access", "Visit")
    pass_model = apps.get_model("access", "StandingPass")
    event_model = apps.get_model("access", "GateEvent")
    presence_model = apps.get_model("access", "Presence")
    pending = list(visitor_model.objects.filter(person__isnull=True).values_list("pk", flat=True))
    for start in range(0, len(pending), BATCH):
        for visitor in visitor_model.objects.filter(pk__in=pending[start : start + BATCH]):
            seen: list[tuple[Any, str]] = []
            for model in (visit_model, pass_model):
                seen += [
                    (created, _region(code))
                    for code, created in model.objects.filter(visitor=visitor).values_list(
                        "site__region_id", "created_at"
                    )
                ]
            regions = list(dict.fromkeys(region for _at, region in sorted(seen)))
            if not regions:
                regions = [_region(visitor.watchlist_region)]
            person = person_model.objects.create(
                nik_hash=keyed_hash(visitor.nik, purpose="nik"), nik=visitor.nik
            )
            visitor.person = person
            visitor.region = regions[0]
            visitor.nik_masked = _masked(visitor.nik)
            visitor.person_ref = keyed_hash(visitor.nik, purpose="person")
            visitor.phone_sealed = visitor.phone
            visitor.photo_sealed = bytes(visitor.photo) if visitor.photo else None
            visitor.save()
            visit_model.objects.filter(visitor=visitor).update(
                visitor_name=visitor.name, visitor_organisation=visitor.organisation
            )
            for region in regions[1:]:
                copy = visitor_model.objects.create(
                    id=uuid7(),
                    person=person,
                    region=region,
                    nik=visitor.nik,
                    nik_masked=visitor.nik_masked,
                    person_ref=visitor.person_ref,
                    name=visitor.name,
                    organisation=visitor.organisation,
                    phone_sealed=visitor.phone,
                    officer=visitor.officer,
                    user_id=visitor.user_id,
                    photo_sealed=visitor.photo_sealed,
                    photo_content_type=visitor.photo_content_type,
                    photo_sha256=visitor.photo_sha256,
                )
                there = Q(site__region_id=region) | Q(site__region_id__startswith=region + ".")
                for model in (visit_model, pass_model, event_model, presence_model):
                    model.objects.filter(there, visitor=visitor).update(visitor=copy)


class Migration(migrations.Migration):
    dependencies = [("access", "0003_person_and_regional_records")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]

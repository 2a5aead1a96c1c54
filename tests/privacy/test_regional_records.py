"""Finding 2: a neighbouring region's visit never changes what OKU Timur holds of a person.
Each region gets its own record (name, organisation, phone, photo); each change keeps who,
when and the old value."""

from __future__ import annotations

import io
from typing import Any

import pytest

from siaga.access import services
from siaga.access.models import Person, Visitor, VisitorChange
from siaga.accounts.models import User
from siaga.accounts.permissions import Action
from siaga.core.errors import NotFound
from siaga.ledger.models import Entry
from tests.access.conftest import NIK_OPERATOR, Gate, png
from tests.conftest import World
from tests.privacy.conftest import register

pytestmark = pytest.mark.django_db


def frozen(visitor: Visitor) -> tuple[Any, ...]:
    visitor.refresh_from_db()
    return (
        visitor.name,
        visitor.organisation,
        visitor.phone,
        visitor.photo_sha256,
        bytes(visitor.photo or b""),
        visitor.updated_at,
    )


def test_a_neighbouring_region_registering_an_okut_nik_gets_its_own_record(
    gate: Gate, world: World, kpu_oku: User, client_for: Any
) -> None:
    okut = gate.operator_pass.visitor
    services.set_visitor_photo(
        actor=User.objects.get(username="jaga.okut"),
        visitor_id=okut.pk,
        photo=io.BytesIO(png()),
    )
    before = frozen(okut)
    visit = register(
        kpu_oku,
        world.warehouse_oku,
        nik=NIK_OPERATOR,
        name="Nama Palsu",
        organisation="Organisasi Lain",
        phone="0813 9999 8888",
    )
    # OKU Timur's record is as it was; OKU has a record of its own, the same person.
    assert frozen(okut) == before
    assert okut.region == "16.08"
    oku = visit.visitor
    assert (oku.region, oku.name, oku.organisation, oku.phone) == (
        "16.01",
        "Nama Palsu",
        "Organisasi Lain",
        "+6281399998888",
    )
    assert oku.pk != okut.pk and oku.person_id == okut.person_id
    assert Person.objects.count() == Visitor.objects.values("person").distinct().count()
    assert not VisitorChange.objects.filter(visitor=okut).exists()
    # The visit keeps the name as registered.
    assert (visit.visitor_name, visit.visitor_organisation) == ("Nama Palsu", "Organisasi Lain")
    # kpu.oku sees only OKU's record, and cannot read or replace OKU Timur's photo.
    assert list(Visitor.objects.for_user(kpu_oku, Action.VIEW).filter(person=okut.person)) == [oku]
    client = client_for(kpu_oku)
    assert client.get(f"/api/v1/visitors/{okut.pk}/photo").status_code == 404
    with pytest.raises(NotFound):
        services.set_visitor_photo(actor=kpu_oku, visitor_id=okut.pk, photo=io.BytesIO(png()))
    assert frozen(okut) == before
    # The photo is per region: OKU's own photo leaves OKU Timur's alone.
    services.set_visitor_photo(actor=kpu_oku, visitor_id=oku.pk, photo=io.BytesIO(png(60, 30)))
    oku.refresh_from_db()
    assert oku.photo_sha256 and oku.photo_sha256 != before[3]
    assert frozen(okut) == before
    # The ledger entries of OKU's visit lie in OKU's region, not in OKU Timur's.
    entry = Entry.objects.filter(kind="access.visit.registered", subject_id=str(visit.pk)).get()
    assert entry.region.startswith("16.01") and str(okut.pk) not in entry.payload
    assert "Nama Palsu" not in entry.payload  # the name is personal, never in the payload


def test_each_change_of_a_record_keeps_who_when_and_the_old_value(
    gate: Gate, operator_okut: User, guard_okut: User
) -> None:
    okut = gate.operator_pass.visitor
    assert okut.phone == "+6281234567890"
    register(
        operator_okut,
        gate.site,
        nik=NIK_OPERATOR,
        name="Rina Operator Baru",
        organisation="KPU OKU Timur",
        phone="0813 1111 2222",
    )
    okut.refresh_from_db()
    assert (okut.name, okut.phone) == ("Rina Operator Baru", "+6281311112222")
    changes = {c.field: c for c in VisitorChange.objects.filter(visitor=okut)}
    assert set(changes) == {"name", "organisation", "phone"}
    assert changes["name"].old_value == "Rina Operator"
    assert changes["organisation"].old_value == ""
    assert changes["phone"].old_value == "+6281234567890"
    assert {c.changed_by for c in changes.values()} == {operator_okut}
    assert {c.via for c in changes.values()} == {"visit"}
    # A new photo names the one it replaced.
    services.set_visitor_photo(actor=guard_okut, visitor_id=okut.pk, photo=io.BytesIO(png()))
    okut.refresh_from_db()
    first = okut.photo_sha256
    services.set_visitor_photo(actor=guard_okut, visitor_id=okut.pk, photo=io.BytesIO(png(50, 20)))
    photo = VisitorChange.objects.get(visitor=okut, field="photo")
    assert (photo.old_value, photo.changed_by, photo.via) == (first, guard_okut, "photo")


def test_a_listing_in_one_region_holds_at_every_gate_without_lending_its_facts(
    gate: Gate, world: World, kapolres_okut: User, kpu_oku: User
) -> None:
    from siaga.access.services import Watchlisted
    from tests.access.conftest import NIK_SUSPECT

    services.set_watchlist(
        actor=kapolres_okut, nik=NIK_SUSPECT, name="Budi DPO", listed=True, reason="DPO"
    )
    with pytest.raises(Watchlisted) as refused:
        register(kpu_oku, world.warehouse_oku, nik=NIK_SUSPECT, name="Budi di OKU")
    # The refusal carries no id of OKU Timur's record.
    listing = Visitor.objects.by_nik(NIK_SUSPECT).get()
    assert str(listing.pk) not in str(refused.value.detail)
    assert set(refused.value.detail) == {"alarm"}
    assert Visitor.objects.by_nik(NIK_SUSPECT).count() == 1  # nothing written in OKU

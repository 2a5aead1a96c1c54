"""NIK, phone and photo are encrypted at rest: the raw columns hold none of them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection

from siaga.access import services
from siaga.access.models import Person, Visitor
from siaga.accounts.models import User
from siaga.core import crypto
from tests.access.conftest import NIK_OPERATOR, Gate, png

pytestmark = pytest.mark.django_db


def raw(sql: str, params: list[Any]) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def test_the_raw_columns_hold_no_nik_phone_or_photo(gate: Gate, guard_okut: User) -> None:
    visitor = gate.operator_pass.visitor
    services.set_visitor_photo(actor=guard_okut, visitor_id=visitor.pk, photo=io.BytesIO(png()))
    visitor.refresh_from_db()
    person_table, visitor_table = Person._meta.db_table, Visitor._meta.db_table
    pk = Person._meta.pk.get_db_prep_value(visitor.person_id, connection)
    nik, nik_hash = raw(f'SELECT "nik", "nik_hash" FROM "{person_table}" WHERE "id" = %s', [pk])  # noqa: S608
    assert NIK_OPERATOR not in str(nik) and NIK_OPERATOR not in str(nik_hash)
    assert crypto.decrypt(str(nik)) == NIK_OPERATOR
    vpk = Visitor._meta.pk.get_db_prep_value(visitor.pk, connection)
    phone, photo = raw(f'SELECT "phone", "photo" FROM "{visitor_table}" WHERE "id" = %s', [vpk])  # noqa: S608
    assert "6281234567890" not in str(phone) and "81234567890" not in str(phone)
    stored = bytes(photo)
    assert not stored.startswith((b"\xff\xd8", b"\x89PNG", b"RIFF"))
    decrypted = crypto.decrypt_bytes(stored)
    assert decrypted == bytes(visitor.photo or b"") and decrypted[:2] in (b"\xff\xd8", b"\x89P")
    # Through the model, the values read back as they were written.
    assert (visitor.nik, visitor.phone) == (NIK_OPERATOR, "+6281234567890")
    # A look-up finds the person by the keyed hash alone.
    assert Person.objects.by_nik(NIK_OPERATOR).get().pk == visitor.person_id

from __future__ import annotations

import os
import stat

import pytest
from django.db import connection
from django.test import override_settings

from siaga.core import crypto


def test_encrypt_round_trips_and_never_repeats() -> None:
    first, second = crypto.encrypt("1608011234560001"), crypto.encrypt("1608011234560001")
    assert first != second
    assert "1608011234560001" not in first
    assert crypto.decrypt(first) == "1608011234560001"


def test_keyed_hash_differs_by_purpose_and_survives_rotation() -> None:
    nik = crypto.keyed_hash("1608011234560001", purpose="nik")
    assert nik != crypto.keyed_hash("1608011234560001", purpose="phone")
    token = crypto.encrypt("+6281234567890")
    with override_settings(DATA_KEYS=["a-new-key-of-at-least-thirty-two-chars", *_keys()]):
        assert crypto.keyed_hash("1608011234560001", purpose="nik") == nik
        assert crypto.decrypt(token) == "+6281234567890"


def test_a_foreign_key_does_not_open_a_value() -> None:
    token = crypto.encrypt("secret")
    with (
        override_settings(DATA_KEYS=["another-key-of-at-least-thirty-two-chars"]),
        pytest.raises(crypto.DecryptionFailed),
    ):
        crypto.decrypt(token)


def _keys() -> list[str]:
    from django.conf import settings

    return list(settings.DATA_KEYS)


@pytest.mark.django_db
def test_sqlite_file_is_owner_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    connection.ensure_connection()
    name = connection.settings_dict["NAME"]
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600

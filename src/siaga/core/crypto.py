"""Personal data at rest: encryption and keyed hashes, from one key held outside the database.

``SIAGA_DATA_KEY`` holds one key or several (comma-separated, the newest first). Each key is
stretched with HKDF into two: one encrypts (Fernet: AES-128-CBC with HMAC-SHA256, a fresh IV
each time), the other keys the look-up hashes (HMAC-SHA256). Encryption uses the first key and
decryption tries all of them, so a key is rotated by putting the new one in front. The look-up
hashes use the *last* (the oldest) key, so that rotating the encryption key does not lose the
look-ups; a stolen database without the key gives neither the values nor a way to test a NIK
against the hashes (unlike a plain SHA-256 of a 16-digit number)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

__all__ = [
    "DecryptionFailed",
    "EncryptedBinaryField",
    "EncryptedTextField",
    "decrypt",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "keyed_hash",
]


class DecryptionFailed(Exception):
    """A value that none of the configured keys opens (a wrong or lost SIAGA_DATA_KEY)."""


def _derive(key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"siaga", info=info).derive(key.encode())


@functools.lru_cache(maxsize=4)
def _material(keys: tuple[str, ...]) -> tuple[MultiFernet, bytes]:
    fernets = [Fernet(base64.urlsafe_b64encode(_derive(k, b"siaga:encrypt"))) for k in keys]
    return MultiFernet(fernets), _derive(keys[-1], b"siaga:keyed-hash")


def _keys() -> tuple[MultiFernet, bytes]:
    return _material(tuple(settings.DATA_KEYS))


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of ``value`` for ``purpose`` (e.g. ``"nik"``), hex: stable across key
    rotations and different for each purpose, so one hash cannot be matched with another's."""
    _fernet, hash_key = _keys()
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(hash_key, message, hashlib.sha256).hexdigest()


def encrypt_bytes(value: bytes) -> bytes:
    return _keys()[0].encrypt(value)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _keys()[0].decrypt(token)
    except InvalidToken as exc:
        raise DecryptionFailed("No configured SIAGA_DATA_KEY opens this value.") from exc


def encrypt(value: str) -> str:
    return encrypt_bytes(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    return decrypt_bytes(token.encode("ascii")).decode()


class EncryptedTextField(models.TextField):
    """Text stored encrypted; the empty string stays empty (nothing to hide, and forms need
    it). Never filter on it: each encryption differs. Look values up by a keyed hash."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


class EncryptedBinaryField(models.BinaryField):
    """Bytes (a photo) stored encrypted."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or len(value) == 0:
            return value
        return decrypt_bytes(bytes(value))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is not None and len(value) > 0:
            value = encrypt_bytes(bytes(value))
        return super().get_db_prep_value(value, connection, prepared)

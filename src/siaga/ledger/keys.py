"""The instance's Ed25519 signing key, generated at first start under SIAGA_HOME."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from siaga.env import create_once
from siaga.ledger.note import public_bytes, verifier_key


def key_path() -> Path:
    return Path(settings.SIAGA_HOME) / "ledger_ed25519.pem"


@cache
def _load(path: str) -> Ed25519PrivateKey:
    file = Path(path)
    if not file.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        create_once(file, pem)  # another process may have made it first; theirs is read
    key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{file} does not hold an Ed25519 key")
    return key


def signing_key() -> Ed25519PrivateKey:
    return _load(str(key_path()))


def origin() -> str:
    return str(settings.LEDGER_ORIGIN)


def public_key() -> bytes:
    return public_bytes(signing_key().public_key())


def instance_verifier_key() -> str:
    return verifier_key(origin(), public_key())

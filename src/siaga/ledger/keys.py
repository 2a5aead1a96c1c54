"""The instance's Ed25519 signing key, generated at first start under SIAGA_HOME."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from siaga.ledger.note import public_bytes, verifier_key


def key_path() -> Path:
    return Path(settings.SIAGA_HOME) / "ledger_ed25519.pem"


@cache
def _load(path: str) -> Ed25519PrivateKey:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
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

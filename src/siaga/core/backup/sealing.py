"""Passphrase encryption of a backup archive: scrypt, then AES-256-GCM in 1 MiB chunks.

The file (``.tar.enc``) is::

    b"SIAGAENC" ‖ version (1 byte, 1) ‖ header length (4 bytes, big-endian) ‖ header (JSON)
    ‖ chunk 0 ‖ chunk 1 ‖ … ‖ chunk k

The header holds ``{"kdf": "scrypt", "n", "r", "p", "salt", "chunk", "nonce", "check"}``
(salt and nonce prefix in base64). The key is ``scrypt(passphrase, salt, n, r, p)`` (32 bytes);
``check`` is SHA-256 of ``b"siaga-backup/1 key check\\n" ‖ key`` in hex, so a wrong passphrase
is told apart from a damaged file before any chunk is opened. Each chunk is ``chunk`` bytes of
the tar (the last one shorter, possibly empty) sealed with AES-GCM (16-byte tag appended) under
the nonce ``prefix (7 bytes) ‖ index (4 bytes, big-endian) ‖ last (1 byte: 1 on the final
chunk, else 0)`` and with everything before chunk 0 (magic, version, length, header) as
associated data. So no chunk can be altered, moved, dropped or added, the tail cannot be cut
off (the final chunk says it is final), and the header cannot be edited, without the
decryption failing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterator
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"SIAGAENC"
VERSION = 1
CHUNK = 1 << 20
TAG = 16
# scrypt with N = 2**15 and r = 8: 32 MiB of memory and about 0.1 s per attempt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
MAX_SCRYPT_N = 1 << 17
_CHECK_LABEL = b"siaga-backup/1 key check\n"


class WrongPassphrase(Exception):
    """The passphrase does not give the key the header was made with."""


class Corrupt(Exception):
    """The file is not a sealed archive, or it was altered or cut short."""


def is_sealed(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _check(key: bytes) -> str:
    return hashlib.sha256(_CHECK_LABEL + key).hexdigest()


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


class SealedWriter:
    """A write-only file object: what is written comes out sealed into ``out``.
    ``close()`` seals the final chunk; it does not close ``out``."""

    def __init__(self, out: IO[bytes], passphrase: str) -> None:
        salt, self._prefix = os.urandom(16), os.urandom(7)
        key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        header = json.dumps(
            {
                "kdf": "scrypt",
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": base64.b64encode(salt).decode(),
                "chunk": CHUNK,
                "nonce": base64.b64encode(self._prefix).decode(),
                "check": _check(key),
            },
            sort_keys=True,
        ).encode()
        self._aad = MAGIC + bytes([VERSION]) + struct.pack(">I", len(header)) + header
        self._out = out
        self._aes = AESGCM(key)
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        out.write(self._aad)

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index, last)
        self._out.write(self._aes.encrypt(nonce, plain, self._aad))
        self._index += 1

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()


def _read_header(source: IO[bytes]) -> tuple[bytes, dict[str, Any]]:
    start = source.read(len(MAGIC) + 5)
    if len(start) < len(MAGIC) + 5 or not start.startswith(MAGIC):
        raise Corrupt("not a sealed SIAGA backup")
    if start[len(MAGIC)] != VERSION:
        raise Corrupt(f"sealed format version {start[len(MAGIC)]} is not known")
    (length,) = struct.unpack(">I", start[len(MAGIC) + 1 :])
    if length > 4096:
        raise Corrupt("the header is too long")
    raw = source.read(length)
    try:
        header = json.loads(raw)
        if header.get("kdf") != "scrypt" or header.get("chunk") != CHUNK:
            raise ValueError("unknown key derivation or chunk size")
        # Bounded, so that a forged header cannot make the restore spend gigabytes.
        if not (
            2 <= int(header["n"]) <= MAX_SCRYPT_N
            and 1 <= int(header["r"]) <= 16
            and 1 <= int(header["p"]) <= 4
        ):
            raise ValueError("scrypt cost out of range")
    except (ValueError, KeyError, TypeError) as exc:
        raise Corrupt(f"the header is malformed: {exc}") from None
    return start + raw, header


def open_sealed(source: IO[bytes], passphrase: str) -> Iterator[bytes]:
    """The plain bytes of a sealed archive, chunk by chunk, each checked before it is given.
    Raises ``WrongPassphrase`` before the first chunk, ``Corrupt`` at the first bad one."""
    aad, header = _read_header(source)
    try:
        salt = base64.b64decode(header["salt"], validate=True)
        prefix = base64.b64decode(header["nonce"], validate=True)
        key = _derive(passphrase, salt, int(header["n"]), int(header["r"]), int(header["p"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise Corrupt(f"the header is malformed: {exc}") from None
    if len(prefix) != 7:
        raise Corrupt("the header's nonce prefix is malformed")
    if not hmac.compare_digest(_check(key), str(header.get("check", ""))):
        raise WrongPassphrase
    return _chunks(source, AESGCM(key), prefix, aad)


def _chunks(source: IO[bytes], aes: AESGCM, prefix: bytes, aad: bytes) -> Iterator[bytes]:
    index = 0
    block = source.read(CHUNK + TAG)
    while True:
        following = source.read(CHUNK + TAG) if len(block) == CHUNK + TAG else b""
        last = not following
        if len(block) < TAG:
            raise Corrupt(f"chunk {index} is cut short")
        try:
            yield aes.decrypt(_nonce(prefix, index, last), block, aad)
        except InvalidTag:
            raise Corrupt(f"chunk {index} was altered, moved or cut short") from None
        if last:
            return
        block, index = following, index + 1

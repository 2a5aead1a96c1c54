"""Checkpoints as signed notes (C2SP tlog-checkpoint, signed-note) and witness co-signatures
(C2SP tlog-cosignature), with Ed25519. No Django: the standalone verifier uses it.

A checkpoint body is::

    <origin>
    <tree size>
    <root hash, base64>
    time <unix seconds>

followed by a blank line and one signature line per signer: ``— <name> <base64(key id ‖ sig)>``.
A witness co-signature signs ``cosignature/v1\\ntime <t>\\n`` followed by the body.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
ED25519 = b"\x01"
COSIGNATURE_V1 = b"\x04"


class NoteError(ValueError):
    """A note that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: int

    def body(self) -> str:
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {self.time}\n"


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes  # for a cosignature: 8-byte timestamp followed by the signature

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_id + self.blob).decode()}"


def key_id(name: str, public_key: bytes, kind: bytes = ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + kind + public_key).digest()[:4]


def public_bytes(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(name: str, public_key: bytes, kind: bytes = ED25519) -> str:
    """The vkey string ``<name>+<hex key id>+<base64(type ‖ key)>`` that auditors pin."""
    encoded = base64.b64encode(kind + public_key).decode()
    return f"{name}+{key_id(name, public_key, kind).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, bytes]:
    """(name, key type byte, 32-byte public key) from a vkey string."""
    try:
        name, hex_id, encoded = vkey.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise NoteError("not a verifier key (name+hex+base64)") from None
    kind, public_key = raw[:1], raw[1:]
    if kind not in (ED25519, COSIGNATURE_V1) or len(public_key) != 32:
        raise NoteError("only Ed25519 verifier keys are supported")
    if key_id(name, public_key, kind).hex() != hex_id:
        raise NoteError("verifier key id does not match its key")
    return name, kind, public_key


def sign(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note text."""
    body = checkpoint.body()
    public_key = public_bytes(private_key.public_key())
    signature = Signature(name, key_id(name, public_key), private_key.sign(body.encode()))
    return f"{body}\n{signature.line()}\n"


def cosign(
    checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey, timestamp: int
) -> Signature:
    public_key = public_bytes(private_key.public_key())
    message = cosignature_message(checkpoint, timestamp)
    blob = struct.pack(">Q", timestamp) + private_key.sign(message)
    return Signature(name, key_id(name, public_key, COSIGNATURE_V1), blob)


def cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint.body().encode()


def parse(text: str) -> tuple[Checkpoint, list[Signature]]:
    """Split a signed note into its checkpoint and its signature lines (not yet verified)."""
    body, separator, signature_block = text.partition("\n\n")
    if not separator:
        raise NoteError("a signed note needs a blank line before its signatures")
    lines = body.split("\n")
    if len(lines) < 4 or not lines[3].startswith("time "):
        raise NoteError("a checkpoint has origin, size, root hash and time lines")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
        time = int(lines[3].removeprefix("time "))
    except ValueError:
        raise NoteError("checkpoint size, root or time is malformed") from None
    if size < 0 or len(root) != 32 or str(size) != lines[1]:
        raise NoteError("checkpoint size or root hash is malformed")
    checkpoint = Checkpoint(origin=lines[0], size=size, root=root, time=time)
    if checkpoint.body() != body + "\n":
        raise NoteError("checkpoint has unexpected extra lines")
    signatures = []
    for line in signature_block.split("\n"):
        if not line:
            continue
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("signature lines start with an em dash")
        try:
            name, encoded = line.removeprefix(SIGNATURE_PREFIX).split(" ")
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError("signature line is malformed") from None
        if len(raw) < 5:
            raise NoteError("signature line is too short")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return checkpoint, signatures


def verify(text: str, name: str, public_key: bytes) -> Checkpoint:
    """The checkpoint, if ``text`` carries a valid signature by this key; else ``NoteError``."""
    checkpoint, signatures = parse(text)
    wanted = key_id(name, public_key)
    for signature in signatures:
        if signature.name == name and signature.key_id == wanted:
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(
                    signature.blob, checkpoint.body().encode()
                )
            except InvalidSignature:
                raise NoteError(f"the signature of {name} does not verify") from None
            return checkpoint
    raise NoteError(f"the note carries no signature of {name}")


def verify_cosignature(
    checkpoint: Checkpoint, signature: Signature, name: str, public_key: bytes
) -> int:
    """The co-signing time, if ``signature`` is a valid cosignature/v1 by this key."""
    if signature.name != name or signature.key_id != key_id(name, public_key, COSIGNATURE_V1):
        raise NoteError("the co-signature is not from this witness key")
    if len(signature.blob) != 8 + 64:
        raise NoteError("a co-signature is a timestamp and an Ed25519 signature")
    (timestamp,) = struct.unpack(">Q", signature.blob[:8])
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature.blob[8:], cosignature_message(checkpoint, timestamp)
        )
    except InvalidSignature:
        raise NoteError(f"the co-signature of {name} does not verify") from None
    return int(timestamp)

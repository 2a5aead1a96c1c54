"""The witness's side, for a Bawaslu supervisor or an offline key holder. Imports no Django::

    python -m siaga.ledger.witness keygen --name bawaslu-okut-1 --out witness.pem
    python -m siaga.ledger.witness cosign --url https://siaga.example --token sg_… \\
        --key witness.pem --name bawaslu-okut-1 --instance-key @instance.vkey --state state.txt

``cosign`` fetches the latest checkpoint, checks the instance's signature with the key you
pinned, checks with a consistency proof that it extends the checkpoint you witnessed last
(kept in the state file), and only then signs it and sends the co-signature.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from siaga.ledger import merkle, note


class Refused(Exception):
    """The witness will not sign: the message says why."""


def witness_checkpoint(
    *,
    new_note: str,
    previous_note: str | None,
    consistency: list[bytes],
    instance_vkey: str,
    key: Ed25519PrivateKey,
    name: str,
    timestamp: int,
) -> str:
    """The co-signature line for ``new_note``, after every check a witness must make."""
    origin, _kind, instance_public = note.parse_verifier_key(instance_vkey)
    try:
        new = note.verify(new_note, origin, instance_public)
        previous = note.verify(previous_note, origin, instance_public) if previous_note else None
    except note.NoteError as exc:
        raise Refused(f"checkpoint signature: {exc}") from None
    if previous is not None:
        if new.size < previous.size:
            raise Refused(
                "the ledger is smaller than the checkpoint I co-signed "
                f"({new.size} < {previous.size}): its database was put back to an older copy, "
                "or it forked"
            )
        try:
            merkle.verify_consistency(previous.size, new.size, previous.root, new.root, consistency)
        except merkle.ProofError as exc:
            raise Refused(f"the new checkpoint does not extend the last one: {exc}") from None
    return note.cosign(new, name, key, timestamp).line()


def generate_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise Refused(f"{path} is not an Ed25519 key")
    return key


def witness_vkey(name: str, key: Ed25519PrivateKey) -> str:
    return note.verifier_key(name, note.public_bytes(key.public_key()), note.COSIGNATURE_V1)


def _request(url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the user's URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ServerRefused(exc.code, exc.read()) from None


class ServerRefused(Exception):
    """The server answered an error; its code and message, in words."""

    def __init__(self, status: int, body: bytes) -> None:
        try:
            answer = json.loads(body)
            code, message = str(answer["code"]), str(answer["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "error", body.decode("utf-8", "replace")[:300]
        super().__init__(f"the server answered {status} {code}: {message}")
        self.status, self.code = status, code


def cosign_remote(args: argparse.Namespace) -> str:
    base = args.url.rstrip("/") + "/api/v1/ledger"
    vkey = args.instance_key
    if vkey.startswith("@"):
        vkey = Path(vkey[1:]).read_text().strip()
    state = Path(args.state)
    previous = state.read_text() if state.exists() else None
    latest = _request(f"{base}/checkpoint", args.token)
    proof: list[bytes] = []
    if previous:
        before = note.parse(previous)[0].size
        # A smaller ledger has no proof to give: witness_checkpoint refuses it in words.
        if before < latest["tree_size"]:
            answer = _request(
                f"{base}/proof/consistency?first={before}&second={latest['tree_size']}",
                args.token,
            )
            proof = [base64.b64decode(p) for p in answer["proof"]]
    line = witness_checkpoint(
        new_note=latest["note"],
        previous_note=previous,
        consistency=proof,
        instance_vkey=vkey,
        key=load_key(Path(args.key)),
        name=args.name,
        timestamp=int(time.time()),
    )
    _request(
        f"{base}/cosignatures",
        args.token,
        {"tree_size": latest["tree_size"], "signature_line": line},
    )
    state.write_text(latest["note"])
    return f"co-signed checkpoint {latest['tree_size']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m siaga.ledger.witness")
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="make a witness key; prints the key to register")
    keygen.add_argument("--name", required=True)
    keygen.add_argument("--out", required=True, type=Path)
    cosign = sub.add_parser("cosign", help="verify and co-sign the latest checkpoint")
    for option in ("--url", "--token", "--key", "--name", "--instance-key", "--state"):
        cosign.add_argument(option, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            print(witness_vkey(args.name, generate_key(args.out)))
        else:
            print(cosign_remote(args))
    except Refused as exc:
        print(f"REFUSED: {exc}")
        return 1
    except ServerRefused as exc:
        print(f"REFUSED: {exc}")
        return 1
    except (OSError, ValueError, note.NoteError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The archive itself: a tar of the database copy, the media, the key files and the ledger's
checkpoint files, closed by ``manifest.json`` (the SHA-256 of every other member); plain
(``.tar``) or sealed with a passphrase (``.tar.enc``, see ``sealing``)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.utils.translation import gettext_lazy as _

from siaga.core.backup import sealing
from siaga.core.errors import InvalidInput

FORMAT = "siaga-backup/1"
MANIFEST = "manifest.json"
PREFIX = "siaga-backup-"
STAMP = "%Y%m%dT%H%M%SZ"
NAME_RE = re.compile(r"^siaga-backup-(\d{8}T\d{6}Z)\.tar(\.enc)?$")
# The top folders a member may lie in; anything else in an archive is refused.
TOPS = ("database", "media", "home")
READ_BLOCK = 1 << 20


class ArchiveRefused(InvalidInput):
    """An archive that cannot be trusted or read: wrong passphrase, altered, not ours."""


def archive_name(when: datetime, sealed: bool) -> str:
    return f"{PREFIX}{when.strftime(STAMP)}.tar{'.enc' if sealed else ''}"


def archive_time(name: str) -> datetime | None:
    """When an archive of ours was made, from its name; None for any other file."""
    from datetime import UTC

    match = NAME_RE.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)


class _Hashing(io.RawIOBase):
    """Reads a file through SHA-256."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        self.sha256.update(data)
        buffer[: len(data)] = data
        return len(data)


def _info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class Writer:
    """Adds members to a streamed tar and keeps their SHA-256 for the manifest."""

    def __init__(self, out: IO[bytes]) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.members: dict[str, dict[str, Any]] = {}

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as source:
            stat = os.fstat(source.fileno())
            reader = _Hashing(source)
            self._tar.addfile(_info(name, stat.st_size, stat.st_mtime), reader)
        self.members[name] = {"size": stat.st_size, "sha256": reader.sha256.hexdigest()}

    def add_bytes(self, name: str, data: bytes, mtime: float) -> None:
        self._tar.addfile(_info(name, len(data), mtime), io.BytesIO(data))
        self.members[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def close(self, manifest: dict[str, Any], mtime: float) -> None:
        data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        self._tar.addfile(_info(MANIFEST, len(data), mtime), io.BytesIO(data))
        self._tar.close()


def media_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``root`` (links are not followed), as (member, path)."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for file_name in sorted(files):
            path = Path(folder) / file_name
            if path.is_symlink() or not path.is_file():
                continue
            yield "media/" + path.relative_to(root).as_posix(), path


# --- reading -----------------------------------------------------------------------------


class _ChunkStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _refuse(code: str, message: Any, detail: Any = None) -> ArchiveRefused:
    return ArchiveRefused(code, message, detail=detail)


def open_plain(source: IO[bytes], passphrase: str | None) -> IO[bytes]:
    """The tar stream of an archive, decrypting a sealed one."""
    head = source.read(len(sealing.MAGIC))
    source.seek(0)
    if not sealing.is_sealed(head):
        return source
    if passphrase is None:
        raise _refuse(
            "backup_passphrase_required",
            _("This backup is encrypted: give its passphrase (--passphrase-file or -env)."),
        )
    try:
        chunks = sealing.open_sealed(source, passphrase)
    except sealing.WrongPassphrase:
        raise _refuse(
            "backup_passphrase_wrong", _("The passphrase does not open this backup.")
        ) from None
    except sealing.Corrupt as exc:
        raise _refuse("backup_corrupt", _("The backup file is damaged."), str(exc)) from None
    return io.BufferedReader(_ChunkStream(chunks), READ_BLOCK)


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if (
        name != path.as_posix()
        or path.is_absolute()
        or ".." in path.parts
        or (name != MANIFEST and (len(path.parts) < 2 or path.parts[0] not in TOPS))
    ):
        raise _refuse(
            "backup_member_unexpected",
            _("The backup holds a file it should not: %(name)s.") % {"name": name},
            name,
        )
    return name


def extract(source: IO[bytes], staging: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """Unpack every member under ``staging``, checking each against the manifest; returns the
    manifest and where each member now lies. Refuses a member the manifest does not list, a
    listed one that is missing, and one whose bytes differ from its SHA-256."""
    found: dict[str, dict[str, Any]] = {}
    placed: dict[str, Path] = {}
    manifest_bytes: bytes | None = None
    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:
            for member in tar:
                name = _safe_name(member.name)
                if not member.isfile() or name in found or manifest_bytes is not None:
                    raise _refuse(
                        "backup_member_unexpected",
                        _("The backup holds a file it should not: %(name)s.") % {"name": name},
                        name,
                    )
                reader = tar.extractfile(member)
                assert reader is not None
                if name == MANIFEST:
                    manifest_bytes = reader.read()
                    continue
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                digest = hashlib.sha256()
                size = 0
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while block := reader.read(READ_BLOCK):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
                found[name] = {"size": size, "sha256": digest.hexdigest()}
                placed[name] = target
    except (tarfile.TarError, EOFError) as exc:
        raise _refuse(
            "backup_not_an_archive", _("This file is not a readable SIAGA backup."), str(exc)
        ) from None
    except sealing.Corrupt as exc:
        raise _refuse("backup_corrupt", _("The backup file is damaged."), str(exc)) from None
    manifest = _parse_manifest(manifest_bytes)
    _check_members(manifest, found)
    return manifest, placed


def _parse_manifest(data: bytes | None) -> dict[str, Any]:
    if data is None:
        raise _refuse("backup_manifest_missing", _("The backup has no manifest."))
    try:
        manifest = json.loads(data)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), dict):
            raise ValueError("no member list")
    except ValueError as exc:
        raise _refuse(
            "backup_manifest_invalid", _("The backup's manifest cannot be read."), str(exc)
        ) from None
    if manifest.get("format") != FORMAT:
        raise _refuse(
            "backup_format_unsupported",
            _("This backup's format is not one this version reads."),
            manifest.get("format"),
        )
    return manifest


def _check_members(manifest: dict[str, Any], found: dict[str, dict[str, Any]]) -> None:
    listed: dict[str, Any] = manifest["members"]
    for name in sorted(set(listed) - set(found)):
        raise _refuse(
            "backup_member_missing",
            _("A file the manifest lists is missing from the backup: %(name)s.") % {"name": name},
            name,
        )
    for name in sorted(set(found) - set(listed)):
        raise _refuse(
            "backup_member_unexpected",
            _("The backup holds a file it should not: %(name)s.") % {"name": name},
            name,
        )
    for name in sorted(listed):
        entry = listed[name]
        if not isinstance(entry, dict) or entry.get("sha256") != found[name]["sha256"]:
            raise _refuse(
                "backup_member_tampered",
                _("A file in the backup is not the one that was backed up: %(name)s.")
                % {"name": name},
                name,
            )

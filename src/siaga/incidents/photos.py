"""Photos from phones: decoded and checked, re-encoded without metadata. The GPS position
in the EXIF, if any, is returned so it can become the incident's location; nothing else of
the metadata is kept (a phone's EXIF can hold the owner's name and the device serial)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from siaga.core.errors import InvalidInput, SiagaError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo; more is a decompression bomb
GPS_IFD = 0x8825


class PhotoTooLarge(SiagaError):
    status = 413


@dataclass(frozen=True)
class Photo:
    content: bytes
    content_type: str
    width: int
    height: int
    sha256: str
    latitude: Decimal | None
    longitude: Decimal | None


def _rational(value: Any) -> float:
    return float(value[0]) / float(value[1]) if isinstance(value, tuple) else float(value)


def _degrees(dms: Any, ref: str) -> float:
    degrees, minutes, seconds = (_rational(v) for v in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if ref in ("S", "W") else value


def _gps(image: Image.Image) -> tuple[Decimal, Decimal] | tuple[None, None]:
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
        if not gps or 2 not in gps or 4 not in gps:
            return None, None
        lat = _degrees(gps[2], str(gps.get(1, "N")))
        lon = _degrees(gps[4], str(gps.get(3, "E")))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, SyntaxError, OSError):
        return None, None  # EXIF that cannot be read gives no position; the pixels still count
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return Decimal(f"{lat:.6f}"), Decimal(f"{lon:.6f}")


def decode_photo(
    upload: IO[bytes], *, size: int | None = None, max_bytes: int | None = None
) -> Photo:
    """Check and clean one uploaded photo; raise 413 ``photo_too_large`` or 422
    ``photo_invalid``. The limit is the incidents' unless ``max_bytes`` is given."""
    limit = max_bytes or settings.INCIDENT_PHOTO_MAX_BYTES
    if size is not None and size > limit:
        raise PhotoTooLarge(
            "photo_too_large",
            _("The photo is too large."),
            detail={"max_bytes": limit, "bytes": size},
        )
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise PhotoTooLarge(
            "photo_too_large", _("The photo is too large."), detail={"max_bytes": limit}
        )
    invalid = InvalidInput(
        "photo_invalid", _("The photo is not a JPEG, PNG or WebP image that can be read.")
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            kind = image.format or ""
            if kind not in FORMATS or image.width * image.height > MAX_PIXELS:
                raise invalid
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise invalid from None
    latitude, longitude = _gps(image)
    # Turn the pixels upright, then write them out anew: no EXIF, no XMP, no ICC comments.
    try:
        upright: Image.Image = ImageOps.exif_transpose(image)
    except (SyntaxError, OSError, ValueError, TypeError, KeyError):
        upright = image  # an orientation that cannot be read leaves the pixels as they are
    image = upright  # type: ignore[assignment]
    # Pillow writes what it read back out of ``info`` (a JPEG's comment, an ICC profile, EXIF):
    # the copy that is kept carries the pixels alone.
    image.info = {}
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=85)
    content = out.getvalue()
    return Photo(
        content=content,
        content_type=FORMATS[kind],
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(content).hexdigest(),
        latitude=latitude,
        longitude=longitude,
    )

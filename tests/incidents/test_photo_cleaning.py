"""What a photo keeps of its file: the pixels alone, whatever the phone or a prober put beside
them (a JPEG comment, PNG text, EXIF that cannot even be read)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from siaga.incidents.photos import decode_photo

MARK = b"SECRET-NOTE-081234567890"


def _jpeg_with_comment() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG", comment=MARK)
    return out.getvalue()


def _png_with_text() -> bytes:
    info = PngInfo()
    info.add_text("Comment", MARK.decode())
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _broken_exif(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, kind, exif=b"Exif\x00\x00" + MARK)
    return out.getvalue()


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param(_jpeg_with_comment(), "image/jpeg", id="jpeg-comment"),
        pytest.param(_png_with_text(), "image/png", id="png-text"),
        pytest.param(_broken_exif("JPEG"), "image/jpeg", id="jpeg-unreadable-exif"),
        pytest.param(_broken_exif("WEBP"), "image/webp", id="webp-unreadable-exif"),
    ],
)
def test_nothing_but_the_pixels_survives_the_re_encoding(raw: bytes, content_type: str) -> None:
    assert MARK in raw
    photo = decode_photo(io.BytesIO(raw))
    assert MARK not in photo.content
    assert (photo.content_type, photo.width, photo.height) == (content_type, 40, 30)
    assert (photo.latitude, photo.longitude) == (None, None)
    assert Image.open(io.BytesIO(photo.content)).info.get("comment") in (None, b"")

"""Links that leave the site (printed QR codes, notifications) start with SIAGA_PUBLIC_URL.

Never with the request's Host: a Host header is the client's to choose, and a link printed on a
BAST or sent in a message must lead to this SIAGA whoever asked for it.
"""

from __future__ import annotations

from django.conf import settings


def public_url(path: str) -> str:
    """A site-relative link ("/insiden/…/") made absolute; an empty one stays empty."""
    if not path:
        return ""
    return f"{settings.PUBLIC_URL.rstrip('/')}{path}"

"""Language, and the privacy headers of every answer.

Language: pages speak Bahasa Indonesia unless the person switched; the API follows the client.

A phone set to English should still show a guard the Indonesian interface; the switch in the
footer (a cookie) is the one way to change it. API clients ask with ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class SiagaLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith("/api/"):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


# Everything a page or the API answers may name a person or show a photo; a guard's phone is
# often shared, so no answer is kept in its browser cache. Static files are served before this
# middleware is reached (WhiteNoise) and keep their long cache lifetimes.
NO_STORE = "private, no-store"

# The browser features SIAGA's pages use: the camera (badges, package and seal scans, photos),
# the location (the one-tap report, the nearest site) and passkeys. Everything else is off.
PERMISSIONS_POLICY = ", ".join(
    [
        "camera=(self)",
        "geolocation=(self)",
        "publickey-credentials-create=(self)",
        "publickey-credentials-get=(self)",
        "microphone=()",
        "payment=()",
        "usb=()",
        "serial=()",
        "bluetooth=()",
        "hid=()",
        "midi=()",
        "display-capture=()",
        "screen-wake-lock=()",
        "xr-spatial-tracking=()",
        "browsing-topics=()",
    ]
)


class PrivacyHeadersMiddleware:
    """``Cache-Control: private, no-store`` and a ``Permissions-Policy`` on every answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["Cache-Control"] = NO_STORE
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response

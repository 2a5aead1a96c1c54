"""One headless chromium (Debian's, driven by Playwright) per test module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("SIAGA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"chromium is required here and missing at {CHROMIUM}")
        pytest.skip("needs Debian's chromium (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # still synchronous, which Django must be told.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def sign_in(page: Any, base: str, username: str, *, password: str = "") -> Any:
    """Sign ``page`` in as a user would: password, then, where the sign-in asks for it, the
    code the persona's authenticator app shows now. Returns the page on the dashboard."""
    from tests.conftest import PASSWORD, totp_code

    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    page.click("button.btn-primary[type=submit]")
    page.wait_for_url(lambda url: "/login/verify/" in url or url == f"{base}/")
    if "/login/verify" in page.url:
        page.fill("#id_code", totp_code())
        page.click("#otp-form button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page

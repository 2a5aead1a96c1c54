"""In a real browser (Debian's chromium, driven by Playwright): the entry page's proof is
checked by the browser itself, and a field changed in the database is caught there too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from siaga.accounts.models import User
from siaga.ledger import services
from siaga.ledger.models import Entry
from tests.conftest import PASSWORD

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


def sign_in(browser: Any, base: str, username: str) -> Any:
    page = browser.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.btn-primary[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


@pytest.mark.django_db(transaction=True)
def test_browser_checks_the_inclusion_proof_and_catches_tampering(
    browser: Any, live_server: Any, operator_okut: User
) -> None:
    with transaction.atomic():
        entries = [
            services.append(
                kind="custody.receive",
                subject=("test.carton", str(n)),
                payload={"cartons": 120, "wet": n},
                actor=operator_okut,
                region="16.08.01",
            )
            for n in range(7)
        ]
    services.make_checkpoint()
    page = sign_in(browser, live_server.url, "kpu.okut")
    target = entries[3]
    page.goto(f"{live_server.url}/ledger/entries/{target.seq}/")
    badge = page.wait_for_selector("#browser-check[data-result]")
    assert badge.get_attribute("data-result") == "ok"
    # Someone edits the entry in the database: the browser's own check must fail.
    Entry.objects.filter(seq=target.seq).update(payload='{"cartons":120,"wet":0}')
    page.goto(f"{live_server.url}/ledger/entries/{target.seq}/")
    badge = page.wait_for_selector("#browser-check[data-result]")
    assert badge.get_attribute("data-result") == "bad"
    assert "tidak tercantum" in page.inner_text("#proof").lower()

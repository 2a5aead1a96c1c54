"""In a real browser (Debian's chromium, driven by Playwright): the entry page's proof is
checked by the browser itself, and a field changed in the database is caught there too."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from siaga.accounts.models import User
from siaga.ledger import services
from siaga.ledger.models import Entry
from tests.browser.conftest import sign_in


def signed_in(browser: Any, base: str, username: str) -> Any:
    return sign_in(browser.new_page(), base, username)


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
    page = signed_in(browser, live_server.url, "kpu.okut")
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

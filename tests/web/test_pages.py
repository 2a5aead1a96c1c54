from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client

from siaga.accounts.models import ApiToken, User
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db


def test_healthz_checks_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_is_503_when_the_database_is_down(client: Client) -> None:
    # The database itself is the outside world here: make reaching it fail.
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_pages_need_sign_in(client: Client) -> None:
    for url in ["/", "/sites/", "/regions/", "/account/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_login_with_password_reaches_the_dashboard(client: Client, world: World) -> None:
    response = client.post("/login/", {"username": "kpu.okut", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    assert "Gudang Logistik KPU OKU Timur" in page
    assert "Gudang Logistik KPU OKU<" not in page


def test_wrong_password_stays_on_login(client: Client, world: World) -> None:
    response = client.post("/login/", {"username": "kpu.okut", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Nama pengguna atau kata sandi salah." in response.content.decode()


def test_dashboard_speaks_indonesian_and_switches_to_english(
    client_for: Any, guard_okut: User, world: World
) -> None:
    client = client_for(guard_okut)
    # A phone set to English still gets the Indonesian interface until the person switches.
    assert "Dasbor" in client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "Dashboard" in page


def test_site_pages_are_scoped(
    client_for: Any, guard_okut: User, kpu_oku: User, world: World
) -> None:
    own = client_for(guard_okut)
    listing = own.get("/sites/").content.decode()
    assert "Gudang Logistik KPU OKU Timur" in listing
    assert "GUDANG-16.01" not in listing
    detail = own.get(f"/sites/{world.warehouse_okut.pk}/")
    assert detail.status_code == 200
    assert "Gudang A" in detail.content.decode()
    assert client_for(kpu_oku).get(f"/sites/{world.warehouse_okut.pk}/").status_code == 404


def test_site_list_answers_htmx_with_the_table_only(
    client_for: Any, guard_okut: User, world: World
) -> None:
    response = client_for(guard_okut).get("/sites/?q=Gudang", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert "Gudang Logistik KPU OKU Timur" in page


def test_region_browser(client_for: Any, guard_okut: User) -> None:
    client = client_for(guard_okut)
    page = client.get("/regions/16.08/").content.decode()
    assert "Martapura" in page and "Buay Madang" in page
    assert client.get("/regions/16.8/").status_code == 404
    assert client.get("/regions/99.99/").status_code == 404


def test_token_created_on_the_account_page_is_shown_once(client_for: Any, guard_okut: User) -> None:
    client = client_for(guard_okut)
    response = client.post("/account/tokens/", {"name": "HP pos jaga"}, follow=True)
    assert response.status_code == 200
    token = ApiToken.objects.get(user=guard_okut)
    page = response.content.decode()
    assert 'id="new-token"' in page
    assert token.prefix in page
    again = client.get("/account/").content.decode()
    assert 'id="new-token"' not in again
    revoke = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert revoke.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_empty_token_name_is_refused(client_for: Any, guard_okut: User) -> None:
    response = client_for(guard_okut).post("/account/tokens/", {"name": "  "}, follow=True)
    assert response.status_code == 200
    assert ApiToken.objects.filter(user=guard_okut).count() == 0


def test_security_headers(client: Client) -> None:
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"


def test_static_assets_come_from_packages(client: Client) -> None:
    for path in [
        "/static/bootstrap/css/bootstrap.min.css",
        "/static/django_htmx/htmx-2.min.js",
        "/static/siaga/siaga.css",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path


def test_openapi_and_docs(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/auth/token" in paths
    assert "/api/v1/regions/{code}" in paths
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "swagger-ui-bundle.js" in docs.content.decode()


def test_site_list_pages_keep_their_filters(
    client_for: Any, guard_okut: User, world: World
) -> None:
    from siaga.sites.models import Site

    Site.objects.bulk_create(
        Site(
            code=f"TPS-T-{n:03d}",
            name=f"TPS {n:03d} Uji",
            kind="tps",
            region_id="16.08.01.2006",
            owner_unit=world.warehouse_okut.owner_unit,
            voters=200,
            synthetic=True,
        )
        for n in range(60)
    )
    page = client_for(guard_okut).get("/sites/?kind=tps&q=Uji").content.decode()
    assert "1 / 2" in page
    assert 'href="?kind=tps&amp;q=Uji&amp;page=2"' in page

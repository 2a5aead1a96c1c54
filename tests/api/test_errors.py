"""The API never answers an HTML page or a bare 500: bounds on every page, the last-resort
handlers, offsets on every date-time, and the error statuses declared in the schema."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from siaga.accounts.models import User
from siaga.sites.models import Site
from tests.conftest import World

TOO_BIG = 2**63
LISTS = [
    "/api/v1/alarms",
    "/api/v1/incidents",
    "/api/v1/visits",
    "/api/v1/gate/events",
    "/api/v1/sites",
    "/api/v1/notify/inbox",
    "/api/v1/notify/dead",
]
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("field", ["offset", "limit"])
def test_a_page_beyond_what_a_database_holds_is_422(
    client: Client, admin_okut: User, world: World, url: str, field: str
) -> None:
    client.force_login(admin_okut)
    response = client.get(url, {field: TOO_BIG})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["loc"] for error in body["detail"]] == [["query", field]]


@pytest.mark.parametrize("url", LISTS)
def test_the_largest_offset_allowed_answers_an_empty_page(
    client: Client, admin_okut: User, world: World, url: str
) -> None:
    client.force_login(admin_okut)
    response = client.get(url, {"offset": 1_000_000_000})
    assert response.status_code in (200, 403)  # the dead letters are for managers only
    if response.status_code == 200:
        assert response.json()["items"] == []


def test_every_offset_and_limit_in_the_schema_is_bounded(schema: dict[str, Any]) -> None:
    pages = 0
    for path, method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] in ("offset", "limit"):
                pages += 1
                bounds = parameter["schema"]
                assert bounds.get("minimum") is not None, (path, method, parameter["name"])
                assert bounds.get("maximum", TOO_BIG) < 2**62, (path, method, parameter["name"])
    assert pages >= 2 * len(LISTS)


@pytest.mark.urls("tests.api.crash_urls")
def test_an_unexpected_exception_answers_the_error_shape_and_logs_the_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="siaga.api"):
        response = client.get("/api/test/boom", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == "server_error"
    assert body["message"] == "Something went wrong on the server; it has been logged."
    assert re.fullmatch(r"[0-9a-f]{32}", body["detail"]["reference"])
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "siaga.api"]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert body["detail"]["reference"] in record.getMessage()


@pytest.mark.urls("tests.api.crash_urls")
def test_the_message_of_a_server_error_is_in_bahasa_indonesia_by_default(client: Client) -> None:
    response = client.get("/api/test/boom")
    assert response.status_code == 500
    assert response.json()["message"] == (
        "Terjadi kesalahan di server; kesalahan ini sudah dicatat."
    )


@pytest.mark.urls("tests.api.crash_urls")
def test_a_database_error_answers_503_database_unavailable(client: Client) -> None:
    response = client.get("/api/test/database-gone", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "code": "database_unavailable",
        "message": "The database cannot be used just now; nothing was saved. Try again later.",
        "detail": None,
    }


@pytest.mark.urls("tests.api.crash_urls")
def test_html_pages_keep_djangos_handler(client: Client) -> None:
    # The last resort is the API's: a page that fails goes to Django's handler (the test
    # client re-raises what that handler would turn into its 500 page).
    with pytest.raises(RuntimeError, match="a page that fails"):
        client.get("/boom-page/")
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.api.crash_urls")
def test_a_fault_outside_an_operation_under_api_still_answers_json(client: Client) -> None:
    client.raise_request_exception = False  # let Django's handler500 answer, as in production
    response = client.get("/api/plain/boom", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "Something went wrong on the server; it has been logged.",
        "detail": None,
    }
    assert "a fault outside" not in response.content.decode()
    gone = client.get("/api/plain/database-gone", HTTP_ACCEPT_LANGUAGE="en")
    assert gone.status_code == 503
    assert gone.json()["code"] == "database_unavailable"
    page = client.get("/boom-page/")
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


def test_a_write_on_a_read_only_database_is_503_and_writes_nothing(
    client: Client, admin_okut: User, world: World
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PRAGMA query_only is SQLite's; the 503 itself is tested on both")
    client.force_login(admin_okut)
    before = Site.objects.count()
    payload = {
        "code": "PPK-16.08.01",
        "name": "Gudang PPK Martapura",
        "kind": "ppk",
        "region": "16.08.01",
        "owner_unit": world.units["kpu:16.08"].pk,
    }
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON")
    try:
        response = client.post(
            "/api/v1/sites", payload, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert Site.objects.count() == before


@pytest.mark.urls("tests.api.crash_urls")
def test_a_naive_date_time_leaves_with_the_deployments_offset(client: Client) -> None:
    assert client.get("/api/test/naive").json() == {"at": "2029-02-11T23:40:00+07:00"}
    assert client.get("/api/test/aware").json() == {"at": "2029-02-11T16:40:00Z"}


def _stamps(node: Any) -> list[str]:
    """Every non-null ``…_at`` value in a response body."""
    if isinstance(node, list):
        return [stamp for item in node for stamp in _stamps(item)]
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k.endswith("_at") and isinstance(v, str)]
        return found + [stamp for v in node.values() for stamp in _stamps(v)]
    return []


def test_date_times_from_the_database_carry_their_offset(
    client: Client, guard_okut: User, world: World
) -> None:
    from siaga.accounts.services import issue_api_token
    from siaga.alarms.services import raise_alarm

    raise_alarm(
        source="hazards",
        key="sensor:HUM-B-02",
        kind="humidity_high",
        site=world.warehouse_okut,
        severity="warning",
        message="Kelembapan Gudang B 88%",
    )
    _token, raw = issue_api_token(actor=guard_okut, name="gate phone")
    bearer = f"Bearer {raw}"
    stamps: list[str] = []
    for url in ("/api/v1/auth/tokens", "/api/v1/alarms"):
        response = client.get(url, HTTP_AUTHORIZATION=bearer)
        assert response.status_code == 200
        stamps += _stamps(response.json())
    assert len(stamps) >= 5  # created, expires and last used; first and last raised
    for value in stamps:
        assert OFFSET.match(value), value
        assert value.endswith("Z"), value  # stored in UTC, sent in UTC


def test_every_operation_declares_its_error_statuses(schema: dict[str, Any]) -> None:
    error_ref = "#/components/schemas/ErrorOut"
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        expected = {"500", "503"}
        if operation.get("security"):
            expected |= {"401", "403"}
        if operation.get("parameters") or operation.get("requestBody"):
            expected |= {"404", "422"}
        if method in ("post", "put", "patch", "delete"):
            expected |= {"409", "413", "422"}
        assert expected <= set(responses), (method, path, sorted(expected - set(responses)))
        for status in expected:
            schema_ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
            assert schema_ref == error_ref, (method, path, status)


def test_the_token_endpoint_declares_its_throttle(schema: dict[str, Any]) -> None:
    assert "429" in schema["paths"]["/api/v1/auth/token"]["post"]["responses"]

"""JSON logs: a request id and the user id on every line, never a NIK."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.core.logs import ContextFilter, logging_config, mask_niks

NIK = "1608014107800001"


@pytest.fixture
def json_lines(settings: Any) -> Iterator[io.StringIO]:
    settings.LOG_FORMAT = "json"
    config = logging_config("INFO", "json")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter_spec = dict(config["formatters"]["json"])
    factory = formatter_spec.pop("()")
    from django.utils.module_loading import import_string

    handler.setFormatter(import_string(factory)(**formatter_spec))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_request_line_carries_its_id_and_the_user(
    client_for: Any, operator_okut: User, json_lines: io.StringIO
) -> None:
    response = client_for(operator_okut).get("/api/v1/auth/me", HTTP_X_REQUEST_ID="proxy-abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "proxy-abc-123"
    (line,) = [entry for entry in lines(json_lines) if entry["logger"] == "siaga.request"]
    assert (line["request_id"], line["user_id"], line["status"], line["method"]) == (
        "proxy-abc-123",
        str(operator_okut.pk),
        200,
        "GET",
    )
    assert line["path"] == "/api/v1/auth/me"
    assert line["level"] == "INFO"


@pytest.mark.django_db
def test_an_unusable_request_id_is_replaced(client: Any, json_lines: io.StringIO) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    issued = response["X-Request-ID"]
    assert len(issued) == 32 and issued != "bad id with spaces\n"
    (line,) = [entry for entry in lines(json_lines) if entry["logger"] == "siaga.request"]
    assert (line["request_id"], line["user_id"]) == (issued, None)


def test_a_nik_never_reaches_a_log_line(json_lines: io.StringIO) -> None:
    logging.getLogger("siaga.access").warning("look-up of %s refused", NIK)
    logging.getLogger("siaga.access").warning(f"walk-in {NIK} typed")
    (first, second) = lines(json_lines)
    assert first["message"] == "look-up of 1608********0001 refused"
    assert second["message"] == "walk-in 1608********0001 typed"
    assert NIK not in json_lines.getvalue()
    # Longer or shorter runs of digits are not NIKs and stay as they are.
    assert mask_niks("12345678901234567 and 123456789012345") == (
        "12345678901234567 and 123456789012345"
    )

"""Every answer tells the browser to keep nothing (a guard's phone is often shared) and names
the few browser features SIAGA uses; static files keep their long cache lifetimes."""

from __future__ import annotations

import io
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.incidents import services as incidents
from siaga.incidents.models import IncidentPhoto
from siaga.web.middleware import NO_STORE
from tests.conftest import World
from tests.incidents.conftest import jpeg

pytestmark = pytest.mark.django_db


def _policy(response: Any) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in response["Permissions-Policy"].split(","))


def test_a_page_and_an_api_answer_are_not_stored_and_carry_the_permissions_policy(
    client_for: Any, world: World, guard_okut: User
) -> None:
    signed_in = client_for(guard_okut)
    for client, url in [
        (signed_in, "/"),
        (signed_in, "/api/v1/auth/me"),
        (client_for(None), "/login/"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == NO_STORE, url
        policy = _policy(response)
        assert policy["camera"] == "(self)"
        assert policy["geolocation"] == "(self)"
        assert policy["microphone"] == "()"
        assert policy["payment"] == "()"


def test_an_incident_photo_is_never_kept_in_the_browser_cache(
    client_for: Any, world: World, guard_okut: User
) -> None:
    raw = jpeg()
    incident = incidents.report_incident(
        actor=guard_okut,
        category="banjir",
        severity=2,
        site_id=world.warehouse_okut.pk,
        photo=io.BytesIO(raw),
        photo_size=len(raw),
    ).incident
    photo = IncidentPhoto.objects.get(incident=incident)
    response = client_for(guard_okut).get(f"/api/v1/incidents/{incident.pk}/photos/{photo.pk}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == NO_STORE


def test_an_anonymous_refusal_is_not_stored_either(client: Any) -> None:
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response["Cache-Control"] == NO_STORE


def test_static_files_keep_their_cache_lifetime(client: Any) -> None:
    response = client.get("/static/siaga/siaga.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")

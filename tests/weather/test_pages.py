"""The warnings page, a warning's page, the site safety panel and the API, in scope."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import override_settings
from django.utils import timezone

from siaga.accounts.models import User
from siaga.sites.models import Site
from siaga.weather import panel, services
from siaga.weather.models import Feed, WarningSite, WeatherWarning
from tests.conftest import World
from tests.weather.conftest import ALERT_ID, Bmkg, current, fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_force(world: World) -> WeatherWarning:
    """The OKU Timur heavy-rain alert, sent ten minutes ago."""
    sent = timezone.now() - timedelta(minutes=10)
    outcome = services.ingest_document(current("cap-okut-alert-id.xml", sent=sent))
    services.ingest_document(current("cap-okut-alert-en.xml", sent=sent))
    assert outcome.warning is not None
    return outcome.warning


def test_warnings_page_lists_the_warning_with_its_site(
    client_for: Any, in_force: WeatherWarning, guard_okut: User
) -> None:
    response = client_for(guard_okut).get("/cuaca/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-warning="{ALERT_ID}"' in page
    assert "Gudang Logistik KPU OKU Timur" in page
    assert 'data-freshness="none"' in page


def test_another_kabupaten_does_not_see_the_warning(
    client_for: Any, in_force: WeatherWarning, kpu_oku: User
) -> None:
    page = client_for(kpu_oku).get("/cuaca/").content.decode()
    assert ALERT_ID not in page
    assert 'data-warning="none"' in page
    assert client_for(kpu_oku).get(f"/cuaca/{in_force.pk}/").status_code == 404


def test_warning_page_shows_areas_sites_steps_and_cap_fields(
    client_for: Any, in_force: WeatherWarning, operator_okut: User
) -> None:
    client = client_for(operator_okut)
    client.post("/i18n/setlang/", {"language": "en"})
    response = client.get(f"/cuaca/{in_force.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-status="in-force"' in page
    assert "Heavy Rain" in page  # the English text, for a reader in English
    assert page.count("<polygon ") == 121
    assert 'data-site="GUDANG-16.08"' in page
    assert "tarpaulins" in page
    assert ALERT_ID in page
    assert "WIB" in page


def test_a_stale_feed_is_said_on_the_page(
    client_for: Any, world: World, bmkg: Bmkg, guard_okut: User
) -> None:
    url = bmkg.serve_feed()
    services.ingest_source(url, polled=True)
    Feed.objects.filter(source=url).update(published_at=timezone.now() - timedelta(days=3))
    client = client_for(guard_okut)
    client.post("/i18n/setlang/", {"language": "en"})
    page = client.get("/cuaca/").content.decode()
    assert 'data-freshness="stale"' in page
    assert "warnings may not be current" in page
    assert "3\xa0days" in page
    # The feed's alert is of 15 January 2024: expired, not shown as in force.
    assert f'data-warning="{ALERT_ID}"' not in page


def test_a_fresh_feed_is_said_too(
    client_for: Any, world: World, bmkg: Bmkg, guard_okut: User
) -> None:
    bmkg.files["/rss"] = (
        fixture("rss-sumsel-id.xml")
        .replace(b"<lastBuildDate>Mon, 15 Jan 2024 10:45:00 +0000</lastBuildDate>", b"")
        .replace(b"<pubDate>Mon, 15 Jan 2024 17:25:00 WIB</pubDate>", b"")
        .replace(b"<pubDate>Mon, 15 Jan 2024 17:35:00 WIB</pubDate>", b"")
    )
    services.ingest_source(bmkg.url("/rss"), polled=True)
    page = client_for(guard_okut).get("/cuaca/").content.decode()
    assert 'data-freshness="fresh"' in page


def test_safety_panel_holds_the_warning_and_its_steps(
    in_force: WeatherWarning, world: World, guard_okut: User, kpu_oku: User
) -> None:
    context = panel.context(world.warehouse_okut, guard_okut)
    assert context is not None
    [item] = context["warnings"]
    assert item["warning"] == in_force
    assert item["coverage"].matched_by == "polygon"
    assert len(item["steps"]) == 5
    assert context["feeds"].configured is False
    html = render_to_string("weather/_safety_panel.html", {"weather": context})
    assert f'data-warning="{ALERT_ID}"' in html
    assert html.count("<li>") == 5
    assert panel.context(world.warehouse_okut, kpu_oku) is None
    empty = panel.context(world.warehouse_oku, kpu_oku)
    assert empty is not None and empty["warnings"] == []


def test_the_site_safety_page_shows_the_warning_panel(
    client_for: Any, in_force: WeatherWarning, world: World, guard_okut: User
) -> None:
    response = client_for(guard_okut).get(f"/keselamatan/{world.warehouse_okut.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="weather-panel"' in page
    assert f'data-warning="{ALERT_ID}"' in page
    # Below the alarms, above the equipment (siaga.safety.panels' order).
    assert page.index('id="weather-panel"') < page.index('data-panel="equipment"')


def test_api_lists_warnings_in_scope_with_offsets(
    client_for: Any, in_force: WeatherWarning, guard_okut: User, kpu_oku: User
) -> None:
    body = client_for(guard_okut).get("/api/v1/weather/warnings").json()
    assert body["count"] == 1
    [item] = body["items"]
    assert item["identifier"] == ALERT_ID
    assert item["in_force"] is True
    assert item["expires"].endswith("+07:00")
    assert item["languages"] == ["en", "id"]
    assert [s["code"] for s in item["sites"]] == ["GUDANG-16.08"]
    assert body["feeds"]["configured"] is False
    assert client_for(kpu_oku).get("/api/v1/weather/warnings").json()["count"] == 0
    detail = client_for(guard_okut).get(f"/api/v1/weather/warnings/{in_force.pk}").json()
    assert len(detail["areas"][0]["polygons"]) == 121
    assert detail["areas"][0]["polygons"][0][0] == [-4.25, 104.27]
    missing = client_for(kpu_oku).get(f"/api/v1/weather/warnings/{in_force.pk}")
    assert (missing.status_code, missing.json()["code"]) == (404, "weather_warning_not_found")


def test_api_ingest_is_for_a_superuser_and_idempotent(
    client_for: Any, world: World, root: User, admin_okut: User
) -> None:
    document = fixture("cap-okut-alert-id.xml").decode()
    refused = client_for(admin_okut).post(
        "/api/v1/weather/ingest", {"document": document}, content_type="application/json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "weather_ingest_forbidden")
    assert WeatherWarning.objects.count() == 0
    client = client_for(root)
    first = client.post(
        "/api/v1/weather/ingest", {"document": document}, content_type="application/json"
    )
    assert first.status_code == 200
    assert (first.json()["result"], first.json()["sites"]) == ("created", 1)
    again = client.post(
        "/api/v1/weather/ingest", {"document": document}, content_type="application/json"
    )
    assert again.json()["result"] == "duplicate"
    assert WarningSite.objects.count() == 1
    bad = client.post(
        "/api/v1/weather/ingest",
        {"document": document.replace("cap:1.2", "cap:1.1")},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "cap_version_unsupported")
    assert WeatherWarning.objects.count() == 1


def test_api_feeds_say_their_freshness(
    client_for: Any, world: World, bmkg: Bmkg, guard_okut: User
) -> None:
    url = bmkg.serve_feed()
    with override_settings(WEATHER_FEEDS=[url]):
        services.poll()
    [feed] = client_for(guard_okut).get("/api/v1/weather/feeds").json()
    assert feed["source"] == url
    assert feed["polled"] is True
    assert feed["freshness"] == "stale"  # BMKG's feed of 15 January 2024
    assert feed["problems"] == {"source_not_found": 1}


def test_a_warning_over_many_sites_lists_the_first_and_counts_them(
    client_for: Any, world: World, guard_okut: User
) -> None:
    Site.objects.bulk_create(
        Site(
            code=f"TPS-16.08.01.1008-{n:03d}",
            name=f"TPS {n:03d} Pasar Martapura",
            kind="tps",
            region_id="16.08.01.1008",
            owner_unit=world.warehouse_okut.owner_unit,
            latitude=Decimal("-4.300000") + Decimal(n) / 10000,
            longitude=Decimal("104.300000"),
            voters=250,
        )
        for n in range(40)
    )
    sent = timezone.now() - timedelta(minutes=10)
    outcome = services.ingest_document(current("cap-okut-alert-id.xml", sent=sent))
    assert outcome.sites == 41
    client = client_for(guard_okut)
    client.post("/i18n/setlang/", {"language": "en"})
    page = client.get("/cuaca/").content.decode()
    assert "(41 sites in all)" in page
    # The first 30 by name: the warehouse and 29 TPS.
    assert page.count("Pasar Martapura</a>") == 29
    body = client.get("/api/v1/weather/warnings").json()
    assert (body["items"][0]["sites_count"], len(body["items"][0]["sites"])) == (41, 41)

"""Reading BMKG's feed over HTTP (a local server stands in for BMKG), files, the command,
and the worker's poll: every bad input is counted on the feed and the rest goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from siaga.core.jobs import periodic_jobs
from siaga.weather import services
from siaga.weather.models import Feed, WarningSite, WeatherWarning
from siaga.weather.signals import warning_in_force
from tests.conftest import World
from tests.weather.conftest import ALERT_ID, FIXTURES, NOW, Bmkg, fixture
from tests.weather.test_cap import BILLION_LAUGHS

pytestmark = pytest.mark.django_db


def test_rss_feed_brings_each_linked_document_and_records_the_404(world: World, bmkg: Bmkg) -> None:
    url = bmkg.serve_feed()
    report = services.ingest_source(url, now=NOW)
    assert not report.failed
    assert [o.result for o in report.outcomes] == ["created", "language_added"]
    warning = WeatherWarning.objects.get()
    assert warning.identifier == ALERT_ID
    assert sorted(warning.infos.values_list("language", flat=True)) == ["en", "id"]
    assert WarningSite.objects.get().site == world.warehouse_okut
    # The third item's document answers 404: recorded on the feed, not fatal.
    missing = bmkg.url("/alerts/nowcast/id/CSS20240115009_alert.xml")
    assert [(p["code"], p["where"], p["detail"]["status"]) for p in report.problems] == [
        ("source_not_found", missing, 404)
    ]
    feed = Feed.objects.get(source=url)
    assert feed.title == "Peringatan Dini Cuaca BMKG - Sumatera Selatan"
    assert feed.problem_counts == {"source_not_found": 1}
    assert feed.last_error_code == "source_not_found"
    assert (feed.last_fetched_at, feed.last_success_at) == (NOW, NOW)
    assert feed.published_at == datetime(2024, 1, 15, 10, 45, tzinfo=UTC)
    assert feed.fetches == 1
    assert warning.feed == feed


def test_reading_the_feed_again_is_idempotent_and_counts_again(world: World, bmkg: Bmkg) -> None:
    url = bmkg.serve_feed()
    services.ingest_source(url, now=NOW)
    report = services.ingest_source(url, now=NOW + timedelta(minutes=10))
    assert [o.result for o in report.outcomes] == ["duplicate", "duplicate"]
    assert WeatherWarning.objects.count() == 1
    feed = Feed.objects.get(source=url)
    assert feed.problem_counts == {"source_not_found": 2}
    assert feed.fetches == 2


def test_bad_documents_are_counted_by_code_and_the_good_ones_still_read(
    world: World, bmkg: Bmkg
) -> None:
    url = bmkg.serve_feed()
    # The Muara Enim item links a bomb now; the OKU Timur documents stay good.
    bmkg.files["/alerts/nowcast/id/CSS20240115009_alert.xml"] = BILLION_LAUGHS
    report = services.ingest_source(url, now=NOW)
    assert [o.result for o in report.outcomes] == ["created", "language_added"]
    assert Feed.objects.get(source=url).problem_counts == {"xml_entities_forbidden": 1}
    bmkg.files["/alerts/nowcast/id/CSS20240115009_alert.xml"] = b"<html>Gangguan</html>"
    services.ingest_source(url, now=NOW)
    assert Feed.objects.get(source=url).problem_counts == {
        "xml_entities_forbidden": 1,
        "cap_not_cap": 1,
    }


def test_an_unreachable_feed_is_recorded_and_nothing_else_changes(world: World) -> None:
    report = services.ingest_source("http://127.0.0.1:9/alerts/nowcast/id", now=NOW)
    assert report.failed
    feed = Feed.objects.get()
    assert feed.problem_counts == {"source_unreachable": 1}
    assert feed.last_success_at is None
    assert feed.freshness(NOW) == "never"
    assert WeatherWarning.objects.count() == 0


def test_feed_answering_404_itself_is_recorded(world: World, bmkg: Bmkg) -> None:
    report = services.ingest_source(bmkg.url("/alerts/nowcast/id"), now=NOW)
    assert report.failed
    assert report.problems[0]["code"] == "source_not_found"


def test_stale_feed_is_said_to_be_stale(world: World, bmkg: Bmkg) -> None:
    url = bmkg.serve_feed()
    services.ingest_source(url, now=NOW)
    feed = Feed.objects.get(source=url)
    assert feed.freshness(NOW) == "fresh"
    # Read successfully three days later, but BMKG's feed still says 15 January.
    services.ingest_source(url, now=NOW + timedelta(days=3))
    feed.refresh_from_db()
    assert feed.last_success_at == NOW + timedelta(days=3)
    assert feed.freshness(NOW + timedelta(days=3)) == "stale"


def test_a_single_cap_file_is_ingested_by_the_command(world: World) -> None:
    out = StringIO()
    call_command("weather", "ingest", str(FIXTURES / "cap-okut-alert-id.xml"), stdout=out)
    assert "1 new warnings" in out.getvalue()
    assert WeatherWarning.objects.filter(identifier=ALERT_ID).exists()
    feed = Feed.objects.get()
    assert feed.source == str(FIXTURES / "cap-okut-alert-id.xml")
    assert not feed.polled


def test_the_command_fails_on_a_missing_file(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="source_not_found"):
        call_command("weather", "ingest", str(tmp_path / "none.xml"), stdout=StringIO())


def test_too_large_a_document_is_refused(world: World, bmkg: Bmkg) -> None:
    bmkg.files["/big.xml"] = fixture("cap-okut-alert-id.xml")
    with override_settings(WEATHER_MAX_BYTES=4096):
        report = services.ingest_source(bmkg.url("/big.xml"), now=NOW)
    assert report.problems[0]["code"] == "source_too_large"
    assert WeatherWarning.objects.count() == 0


def test_the_worker_polls_the_configured_feeds(world: World, bmkg: Bmkg) -> None:
    url = bmkg.serve_feed()
    [job] = [j for j in periodic_jobs() if j.name == "weather.poll"]
    assert job.func == "siaga.weather.services.poll"
    with override_settings(WEATHER_FEEDS=[url, "http://127.0.0.1:9/down"]):
        assert job.seconds == 600
        reports = services.poll(now=NOW)
    assert [r.failed for r in reports] == [False, True]
    assert set(Feed.objects.filter(polled=True).values_list("source", flat=True)) == {
        url,
        "http://127.0.0.1:9/down",
    }
    assert WeatherWarning.objects.count() == 1
    with override_settings(WEATHER_FEEDS=[url]):
        services.poll(now=NOW)
    assert list(Feed.objects.filter(polled=True).values_list("source", flat=True)) == [url]


def test_a_failing_hook_fails_that_document_only_and_is_counted(world: World, bmkg: Bmkg) -> None:
    def broken(sender: object, **kwargs: object) -> None:
        raise RuntimeError("checklist store down")

    url = bmkg.serve_feed()
    warning_in_force.connect(broken, dispatch_uid="test-broken")
    try:
        report = services.ingest_source(url, now=NOW)
    finally:
        warning_in_force.disconnect(dispatch_uid="test-broken")
    # Both language documents failed with the hook (nothing of them written); the feed says so.
    assert report.outcomes == []
    assert WeatherWarning.objects.count() == 0
    assert Feed.objects.get(source=url).problem_counts == {
        "internal_error": 2,
        "source_not_found": 1,
    }
    # The next round, the hook mended, brings the warning in.
    assert [o.result for o in services.ingest_source(url, now=NOW).outcomes] == [
        "created",
        "language_added",
    ]

"""Recording CAP alerts: the warning, its texts and areas, the sites it covers, Update and
Cancel, the ledger, and who is told."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.core.errors import Conflict, InvalidInput
from siaga.ledger.models import Entry
from siaga.notify.choices import Channel
from siaga.notify.models import Message
from siaga.sites.models import Site
from siaga.weather import services
from siaga.weather.models import (
    Reference,
    WarningArea,
    WarningInfo,
    WarningRegion,
    WarningSite,
    WeatherWarning,
)
from siaga.weather.signals import warning_in_force
from tests.conftest import World
from tests.weather.conftest import ALERT_ID, CANCEL_ID, NOW, UPDATE_ID, fixture

pytestmark = pytest.mark.django_db


def ingest(name: str, now: datetime = NOW, **kwargs: Any) -> services.Outcome:
    return services.ingest_document(fixture(name), source=f"test:{name}", now=now, **kwargs)


def inbox(user: User) -> list[Message]:
    return list(
        Message.objects.filter(
            user=user, channel=Channel.INAPP, kind__startswith="weather."
        ).order_by("created_at", "kind")
    )


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    warning_in_force.connect(receiver, dispatch_uid="test-weather")
    yield calls
    warning_in_force.disconnect(dispatch_uid="test-weather")


def test_heavy_rain_alert_covers_the_martapura_warehouse_by_polygon(
    world: World, guard_okut: User, operator_okut: User, kpu_oku: User, received: list[Any]
) -> None:
    outcome = ingest("cap-okut-alert-id.xml")
    assert outcome.result == "created"
    warning = WeatherWarning.objects.get(identifier=ALERT_ID)
    assert outcome.warning == warning
    assert (warning.msg_type, warning.state, warning.severity) == ("Alert", "current", "Moderate")
    assert warning.hazards == ["heavy_rain"]
    assert warning.sent == datetime(2024, 1, 15, 10, 25, tzinfo=UTC)
    assert (warning.effective_offset, warning.expires_offset) == (420, 420)
    assert warning.expires_local is not None
    assert warning.expires_local.isoformat() == "2024-01-15T20:00:00+07:00"
    assert warning.zone == "WIB"
    assert warning.is_in_force(NOW)
    assert list(warning.infos.values_list("language", flat=True)) == ["id"]
    [area] = WarningArea.objects.filter(warning=warning)
    assert len(area.polygons) == 121
    # The kecamatan named only in the description, within OKU Timur (not Kalimantan's Martapura).
    assert set(warning.regions.filter(found_in="text").values_list("region_id", flat=True)) == {
        "16.08.01",
        "16.08.03",
        "16.08.04",
        "16.08.09",
        "16.08.11",
    }
    [covered] = WarningSite.objects.filter(warning=warning)
    assert (covered.site, covered.matched_by, covered.area) == (
        world.warehouse_okut,
        "polygon",
        area,
    )
    assert covered.activated_at == NOW
    assert covered.notified_severity == "Moderate"
    # The ledger: its arrival and the site it covers.
    arrival = Entry.objects.get(kind="weather.warning_received", subject_id=str(warning.pk))
    payload = json.loads(arrival.payload)
    assert payload["identifier"] == ALERT_ID
    assert payload["polygons"] == 121
    assert payload["expires"] == "2024-01-15T20:00:00+07:00"
    assert arrival.region == "16.08"
    matched = Entry.objects.get(kind="weather.site_matched", subject_id=str(covered.pk))
    assert json.loads(matched.payload)["site_code"] == "GUDANG-16.08"
    assert matched.region == "16.08.01.1008"
    # The guard and the logistics operator of OKU Timur are told, with the steps; OKU is not.
    [to_guard] = inbox(guard_okut)
    [to_operator] = inbox(operator_okut)
    assert inbox(kpu_oku) == []
    assert to_guard.kind == "weather.in_force"
    assert to_guard.dedup_key == f"weather:{warning.pk}:{world.warehouse_okut.pk}:in_force"
    title, body = to_guard.rendered("en")
    assert title == (
        "[SIAGA] BMKG warning: Heavy rain at Gudang Logistik KPU OKU Timur "
        "until 15-01-2024 20:00 WIB"
    )
    assert "tarpaulins" in body
    assert "gutters" in body
    assert "Nothing on the floor" in body
    assert to_operator.url == f"/cuaca/{warning.pk}/"
    # The hook for inspections: once, for this site.
    assert [(c["warning"], c["site"], c["update_of"]) for c in received] == [
        (warning, world.warehouse_okut, None)
    ]


def test_the_same_identifier_twice_changes_nothing(world: World, guard_okut: User) -> None:
    ingest("cap-okut-alert-id.xml")
    counts = (WeatherWarning.objects.count(), WarningSite.objects.count(), Entry.objects.count())
    again = ingest("cap-okut-alert-id.xml", now=NOW + timedelta(minutes=5))
    assert again.result == "duplicate"
    assert (
        WeatherWarning.objects.count(),
        WarningSite.objects.count(),
        Entry.objects.count(),
    ) == counts
    assert len(inbox(guard_okut)) == 1


def test_english_document_is_the_same_warning_in_another_language(world: World) -> None:
    ingest("cap-okut-alert-id.xml")
    outcome = ingest("cap-okut-alert-en.xml")
    assert outcome.result == "language_added"
    warning = WeatherWarning.objects.get()
    assert sorted(warning.infos.values_list("language", flat=True)) == ["en", "id"]
    assert warning.info("en").headline.startswith("South Sumatra Weather Early Warning")  # type: ignore[union-attr]
    assert warning.info("id").event == "Hujan Lebat"  # type: ignore[union-attr]
    assert WarningSite.objects.count() == 1
    assert Entry.objects.filter(kind="weather.language_added").count() == 1


def test_an_identifier_reused_by_another_alert_is_refused(world: World) -> None:
    ingest("cap-okut-alert-id.xml")
    reused = fixture("cap-okut-alert-id.xml").replace(
        b"<sent>2024-01-15T17:25:00+07:00", b"<sent>2024-01-15T17:26:00+07:00"
    )
    with pytest.raises(Conflict) as caught:
        services.ingest_document(reused, now=NOW)
    assert caught.value.code == "cap_identifier_reused"
    assert WeatherWarning.objects.count() == 1


def test_update_replaces_and_renotifies_only_because_it_is_worse(
    world: World, guard_okut: User, received: list[Any]
) -> None:
    ingest("cap-okut-alert-id.xml")
    later = datetime(2024, 1, 15, 11, 45, tzinfo=UTC)
    outcome = ingest("cap-okut-update-id.xml", now=later)
    assert outcome.ended == [ALERT_ID]
    first = WeatherWarning.objects.get(identifier=ALERT_ID)
    update = WeatherWarning.objects.get(identifier=UPDATE_ID)
    assert (first.state, first.superseded_by, first.ended_at) == ("superseded", update, later)
    assert not first.is_in_force(later)
    assert update.is_in_force(later)
    assert Reference.objects.get(warning=update).target == first
    assert (
        Entry.objects.filter(kind="weather.warning_superseded", subject_id=str(first.pk)).count()
        == 1
    )
    # Severe after Moderate: told again, as worse.
    assert [m.kind for m in inbox(guard_okut)] == ["weather.in_force", "weather.escalated"]
    assert inbox(guard_okut)[1].rendered("en")[0].startswith("[SIAGA] BMKG warning now worse:")
    assert [c["update_of"] for c in received] == [None, first]


def test_update_that_is_no_worse_does_not_notify_again(world: World, guard_okut: User) -> None:
    ingest("cap-okut-alert-id.xml")
    milder = fixture("cap-okut-update-id.xml").replace(
        b"<severity>Severe</severity>", b"<severity>Moderate</severity>"
    )
    services.ingest_document(milder, now=datetime(2024, 1, 15, 11, 45, tzinfo=UTC))
    assert [m.kind for m in inbox(guard_okut)] == ["weather.in_force"]
    covered = WarningSite.objects.get(warning__identifier=UPDATE_ID)
    assert covered.notified_severity == "Moderate"
    assert covered.activated_at is not None


def test_cancel_ends_the_warning_and_says_so(world: World, guard_okut: User) -> None:
    ingest("cap-okut-alert-id.xml")
    ingest("cap-okut-update-id.xml", now=datetime(2024, 1, 15, 11, 45, tzinfo=UTC))
    at = datetime(2024, 1, 15, 12, 31, tzinfo=UTC)
    outcome = ingest("cap-okut-cancel-id.xml", now=at)
    assert outcome.ended == [UPDATE_ID]
    update = WeatherWarning.objects.get(identifier=UPDATE_ID)
    cancel = WeatherWarning.objects.get(identifier=CANCEL_ID)
    assert (update.state, update.cancelled_by) == ("cancelled", cancel)
    assert not cancel.is_in_force(at)
    assert WeatherWarning.objects.in_force(at).count() == 0
    assert [m.kind for m in inbox(guard_okut)] == [
        "weather.in_force",
        "weather.escalated",
        "weather.cancelled",
    ]
    assert Entry.objects.filter(kind="weather.warning_cancelled").count() == 1
    # The Cancel covers no site itself, and concerns the regions of what it cancels.
    assert not cancel.sites.exists()
    assert cancel.regions.filter(found_in="reference", region_id="16.08.01.1008").exists()
    told = inbox(guard_okut)[-1]
    assert told.rendered("en")[0] == (
        "[SIAGA] BMKG warning cancelled: Heavy rain, Strong wind, Thunderstorm and lightning "
        "at Gudang Logistik KPU OKU Timur"
    )


def test_cancel_that_arrives_before_its_alert_ends_it_on_arrival(
    world: World, guard_okut: User
) -> None:
    cancel = fixture("cap-okut-cancel-id.xml").replace(UPDATE_ID.encode(), ALERT_ID.encode())
    services.ingest_document(cancel, now=NOW)
    ingest("cap-okut-alert-id.xml")
    warning = WeatherWarning.objects.get(identifier=ALERT_ID)
    assert warning.state == "cancelled"
    assert inbox(guard_okut) == []


def test_update_of_an_unknown_alert_is_kept_and_linked_later(world: World) -> None:
    ingest("cap-okut-update-id.xml", now=datetime(2024, 1, 15, 11, 45, tzinfo=UTC))
    reference = Reference.objects.get()
    assert (reference.identifier, reference.target) == (ALERT_ID, None)


def test_warning_without_polygons_covers_the_kecamatan_it_names(
    world: World, operator_okut: User
) -> None:
    unit = world.warehouse_okut.owner_unit
    belitang = Site.objects.create(
        code="PPK-16.08.09",
        name="Gudang PPK Belitang II",
        kind="ppk",
        region_id="16.08.09",
        owner_unit=unit,
    )
    cempaka = Site.objects.create(
        code="PPK-16.08.04",
        name="Gudang PPK Cempaka",
        kind="ppk",
        region_id="16.08.04",
        owner_unit=unit,
        latitude=Decimal("-4.300000"),
        longitude=Decimal("104.350000"),
    )
    ingest("cap-okut-names-only-id.xml", now=datetime(2024, 1, 15, 11, 0, tzinfo=UTC))
    covered = {
        (c.site.code, c.matched_by, c.region_id) for c in WarningSite.objects.select_related("site")
    }
    assert covered == {
        ("GUDANG-16.08", "region", "16.08.01"),
        ("PPK-16.08.09", "region", "16.08.09"),
    }
    assert not WarningSite.objects.filter(site=cempaka).exists()
    assert belitang.weather_warnings.count() == 1
    regions = set(WarningRegion.objects.filter(found_in="text").values_list("region_id", flat=True))
    assert regions == {"16.08.01", "16.08.09", "16.08.06"}
    assert len(inbox(operator_okut)) == 2


def test_kalimantan_martapura_is_not_oku_timur(world: World, guard_okut: User) -> None:
    outcome = ingest("cap-kalsel-martapura-id.xml", now=datetime(2024, 1, 15, 9, 30, tzinfo=UTC))
    warning = outcome.warning
    assert warning is not None
    assert set(warning.regions.values_list("region_id", flat=True)) == {"63.03.05", "63.03.07"}
    assert WarningSite.objects.count() == 0
    assert (warning.expires_offset, warning.zone) == (480, "WITA")
    assert inbox(guard_okut) == []


def test_wit_times_are_kept(world: World) -> None:
    warning = ingest("cap-papua-wit-id.xml").warning
    assert warning is not None
    assert warning.effective == datetime(2024, 1, 15, 6, 0, tzinfo=UTC)
    assert warning.effective_local is not None
    assert warning.effective_local.isoformat() == "2024-01-15T15:00:00+09:00"
    assert warning.zone == "WIT"


def test_expired_warning_is_not_in_force(world: World, guard_okut: User) -> None:
    after = datetime(2024, 1, 15, 13, 0, 1, tzinfo=UTC)
    warning = ingest("cap-okut-alert-id.xml", now=after).warning
    assert warning is not None
    assert not warning.is_in_force(after)
    assert warning.is_expired(after)
    assert WeatherWarning.objects.in_force(after).count() == 0
    # It was recorded and matched, but nobody is told of a warning already over.
    assert WarningSite.objects.get().activated_at is None
    assert inbox(guard_okut) == []


def test_warning_effective_later_comes_into_force_with_the_worker(
    world: World, guard_okut: User
) -> None:
    early = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)  # 17:00 WIB, before 17:25
    ingest("cap-okut-alert-id.xml", now=early)
    assert inbox(guard_okut) == []
    assert services.activate_due(early) == 0
    assert services.activate_due(NOW) == 1
    assert [m.kind for m in inbox(guard_okut)] == ["weather.in_force"]
    assert services.activate_due(NOW) == 0


def test_a_bad_document_writes_nothing(world: World) -> None:
    before = (WeatherWarning.objects.count(), WarningInfo.objects.count(), Entry.objects.count())
    opened = fixture("cap-okut-alert-id.xml").replace(
        b"-4.2500,104.2700</polygon>", b"-4.2600,104.2700</polygon>", 1
    )
    with pytest.raises(InvalidInput):
        services.ingest_document(opened, now=NOW)
    assert (
        WeatherWarning.objects.count(),
        WarningInfo.objects.count(),
        Entry.objects.count(),
    ) == before


def test_update_that_no_longer_covers_a_site_says_so(world: World, guard_okut: User) -> None:
    ingest("cap-okut-alert-id.xml")
    moved = fixture("cap-okut-update-id.xml").replace(
        b"-4.2500,104.2700 -4.2500,104.4300 -4.3900,104.4300 -4.3900,104.2700 -4.2500,104.2700",
        b"-3.9000,104.6000 -3.9000,104.7000 -4.0000,104.7000 -4.0000,104.6000 -3.9000,104.6000",
    )
    services.ingest_document(moved, now=datetime(2024, 1, 15, 11, 45, tzinfo=UTC))
    assert not WarningSite.objects.filter(warning__identifier=UPDATE_ID).exists()
    assert [m.kind for m in inbox(guard_okut)] == ["weather.in_force", "weather.lifted"]
    first = WarningSite.objects.get(warning__identifier=ALERT_ID)
    assert first.ended_notified_at is not None

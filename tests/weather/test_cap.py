"""Reading CAP 1.2 and RSS as BMKG writes them, and refusing what cannot be trusted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siaga.core.errors import InvalidInput
from siaga.weather import cap
from tests.weather.conftest import ALERT_ID, UPDATE_ID, fixture

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>
"""


def refused(data: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        cap.read_alert(data)
    return caught.value.code


def variant(old: str, new: str, name: str = "cap-okut-alert-id.xml") -> bytes:
    text = fixture(name).decode()
    assert old in text
    return text.replace(old, new, 1).encode()


def test_bmkg_alert_is_read_with_its_many_polygons_lat_first() -> None:
    alert = cap.read_alert(fixture("cap-okut-alert-id.xml"))
    assert alert.identifier == ALERT_ID
    assert alert.sender == "bmkg@bmkg.go.id"
    assert (alert.status, alert.msg_type, alert.scope) == ("Actual", "Alert", "Public")
    [info] = alert.infos
    assert info.language == "id"
    assert info.event == "Hujan Lebat"
    assert (info.urgency, info.severity, info.certainty) == ("Immediate", "Moderate", "Likely")
    [area] = info.areas
    assert len(area.polygons) == 121
    # The first polygon frames Martapura: latitude first, about -4.3, longitude about 104.3.
    assert area.polygons[0][0] == (-4.25, 104.27)
    assert area.polygons[0][0] == area.polygons[0][-1]
    assert "Bunga Mayang" in info.description


def test_times_keep_their_offsets() -> None:
    alert = cap.read_alert(fixture("cap-okut-alert-id.xml"))
    assert alert.sent.at == datetime(2024, 1, 15, 10, 25, tzinfo=UTC)
    assert alert.sent.offset == 7 * 60
    assert alert.sent.isoformat() == "2024-01-15T17:25:00+07:00"
    wita = cap.read_alert(fixture("cap-kalsel-martapura-id.xml")).infos[0]
    assert wita.expires is not None
    assert (wita.expires.at, wita.expires.offset) == (
        datetime(2024, 1, 15, 11, 40, tzinfo=UTC),
        480,
    )
    wit = cap.read_alert(fixture("cap-papua-wit-id.xml")).infos[0]
    assert wit.effective is not None
    assert (wit.effective.at, wit.effective.offset) == (
        datetime(2024, 1, 15, 6, 0, tzinfo=UTC),
        540,
    )


def test_update_names_the_alert_it_replaces() -> None:
    alert = cap.read_alert(fixture("cap-okut-update-id.xml"))
    assert alert.identifier == UPDATE_ID
    assert alert.msg_type == "Update"
    assert alert.references == [
        cap.Reference("bmkg@bmkg.go.id", ALERT_ID, "2024-01-15T17:25:00+07:00")
    ]


def test_a_document_that_is_not_cap_is_refused() -> None:
    assert refused(b"<html><body>Maintenance</body></html>") == "cap_not_cap"
    assert refused(b'<alert xmlns="urn:example:other"><identifier>x</identifier></alert>') == (
        "cap_not_cap"
    )


def test_cap_1_1_is_refused() -> None:
    older = variant(cap.CAP_12, "urn:oasis:names:tc:emergency:cap:1.1")
    assert refused(older) == "cap_version_unsupported"


def test_an_xml_bomb_is_refused_before_expansion() -> None:
    assert refused(BILLION_LAUGHS) == "xml_entities_forbidden"
    assert refused(EXTERNAL_ENTITY) == "xml_entities_forbidden"


def test_malformed_xml_is_refused() -> None:
    assert refused(fixture("cap-okut-alert-id.xml")[:-40]) == "xml_malformed"
    assert refused(b"") == "xml_malformed"


def test_a_polygon_that_does_not_close_is_refused() -> None:
    opened = variant("-4.2500,104.2700</polygon>", "-4.2600,104.2700</polygon>")
    with pytest.raises(InvalidInput) as caught:
        cap.read_alert(opened)
    assert caught.value.code == "cap_polygon_not_closed"
    assert caught.value.detail == {"first": [-4.25, 104.27], "last": [-4.26, 104.27]}


def test_coordinates_out_of_range_are_refused() -> None:
    # Longitude written first, as GeoJSON would: latitude 104 does not exist.
    swapped = variant("-4.2500,104.2700 ", "104.2700,-4.2500 ")
    assert refused(swapped) == "cap_coordinates_out_of_range"
    assert refused(variant("-4.2500,104.4300", "-4.2500,184.4300")) == (
        "cap_coordinates_out_of_range"
    )
    assert refused(variant("-4.2500,104.4300", "-4.2500,nan")) == "cap_polygon_malformed"
    assert refused(variant("-4.2500,104.4300 ", "-4.2500;104.4300 ")) == "cap_polygon_malformed"


def test_a_time_without_offset_is_refused() -> None:
    naive = variant("<sent>2024-01-15T17:25:00+07:00", "<sent>2024-01-15T17:25:00")
    assert refused(naive) == "cap_time_invalid"


def test_missing_and_invalid_fields_are_refused() -> None:
    assert refused(variant("<sender>bmkg@bmkg.go.id</sender>", "")) == "cap_field_missing"
    assert refused(variant("<severity>Moderate</severity>", "<severity>Sangat</severity>")) == (
        "cap_field_invalid"
    )
    no_refs = fixture("cap-okut-update-id.xml").decode()
    no_refs = no_refs[: no_refs.index("<references>")] + no_refs[no_refs.index("<info>") :]
    assert refused(no_refs.encode()) == "cap_references_missing"


def test_rss_dates_in_wib_are_read() -> None:
    assert cap.parse_rfc822("Mon, 15 Jan 2024 17:25:00 WIB") == datetime(
        2024, 1, 15, 10, 25, tzinfo=UTC
    )
    assert cap.parse_rfc822("Mon, 15 Jan 2024 17:25:00 WITA") == datetime(
        2024, 1, 15, 9, 25, tzinfo=UTC
    )
    assert cap.parse_rfc822("not a date") is None


def test_rss_feed_lists_one_item_per_warning_with_its_link() -> None:
    feed = cap.read(fixture("rss-sumsel-id.xml").replace(b"{base}", b"https://bmkg.example"))
    assert isinstance(feed, cap.Feed)
    assert feed.title == "Peringatan Dini Cuaca BMKG - Sumatera Selatan"
    assert [item.links for item in feed.items] == [
        ["https://bmkg.example/alerts/nowcast/id/CSS20240115001_alert.xml"],
        ["https://bmkg.example/alerts/nowcast/en/CSS20240115001_alert.xml"],
        ["https://bmkg.example/alerts/nowcast/id/CSS20240115009_alert.xml"],
    ]
    # The newest of lastBuildDate and the items' dates: 17:35 WIB.
    assert feed.published == datetime(2024, 1, 15, 10, 45, tzinfo=UTC)

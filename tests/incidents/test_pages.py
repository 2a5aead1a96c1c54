"""The incident pages: list and map, detail and its actions, the report form's fallback, the
acknowledgement list, statistics — scoped to the kabupaten, and refusals shown, not raised."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from siaga.accounts.models import User
from siaga.incidents import services
from siaga.incidents.choices import EventKind, State
from siaga.incidents.models import Incident, IncidentEvent, IncidentPhoto
from tests.conftest import World
from tests.incidents.conftest import Posts, jpeg

pytestmark = pytest.mark.django_db


def report(user: User, site: Any, **extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "category": "banjir",
        "severity": 2,
        "site_id": site.pk,
        "description": "Atap bocor, air menetes di palet",
    }
    fields.update(extra)
    return services.report_incident(actor=user, **fields).incident


def frozen(incident: Incident) -> tuple[Any, ...]:
    """Everything a refused action must leave as it was."""
    row = Incident.objects.filter(pk=incident.pk).values().get()
    return (row, IncidentEvent.objects.filter(incident=incident).count())


# ---------------------------------------------------------------------------------------------
# The list and its map


def test_list_shows_the_kabupatens_incidents_and_none_of_the_neighbours(
    client_for: Any, world: World, guard_okut: User, kpu_oku: User, posts: Posts
) -> None:
    ours = report(guard_okut, world.warehouse_okut, description="Air menetes di Gudang A")
    theirs = report(kpu_oku, world.warehouse_oku, description="Pagar roboh di OKU")
    page = client_for(guard_okut).get("/insiden/")
    assert page.status_code == 200
    html = page.content.decode()
    assert ours.reference in html and f"/insiden/{ours.pk}/" in html
    assert theirs.reference not in html and str(theirs.pk) not in html
    other = client_for(kpu_oku).get("/insiden/").content.decode()
    assert theirs.reference in other
    assert ours.reference not in other and str(ours.pk) not in other
    assert "Gudang Logistik KPU OKU Timur" not in other


def test_list_filters_and_answers_htmx_with_the_results_only(
    client_for: Any, world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    leak = report(guard_okut, world.warehouse_okut)
    fire = report(guard_okut, world.warehouse_okut, category="kebakaran", severity=1)
    services.acknowledge_incident(actor=commissioner_okut, incident_id=fire.pk)
    client = client_for(guard_okut)

    def shown(query: str) -> set[str]:
        response = client.get(f"/insiden/?{query}", HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html
        return {i.reference for i in (leak, fire) if f'data-incident="{i.pk}"' in html}

    assert shown("") == {leak.reference, fire.reference}
    assert shown("category=kebakaran") == {fire.reference}
    assert shown("severity=2") == {leak.reference}
    assert shown("state=reported") == {leak.reference}
    assert shown("state=open") == {leak.reference, fire.reference}
    assert shown("state=closed") == set()
    assert shown(f"site={world.warehouse_okut.pk}") == {leak.reference, fire.reference}
    assert shown(f"q={fire.reference}") == {fire.reference}
    assert shown(f"q={fire.reference[-6:].lower()}") == {fire.reference}
    assert shown("q=bocor") == {leak.reference, fire.reference}
    # Nonsense in the address narrows nothing and breaks nothing.
    assert shown("severity=9&state=x&site=nope&category=zzz") == {leak.reference, fire.reference}


def test_map_draws_a_marker_per_incident_coloured_by_severity(
    client_for: Any, world: World, guard_okut: User, posts: Posts
) -> None:
    at_site = report(guard_okut, world.warehouse_okut, severity=1, category="kebakaran")
    placed = report(
        guard_okut,
        world.warehouse_okut,
        severity=3,
        latitude=Decimal("-4.250000"),
        longitude=Decimal("104.400000"),
    )
    html = client_for(guard_okut).get("/insiden/").content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    markers = re.findall(
        r'<a href="/insiden/([0-9a-f-]+)/" class="map-link">'
        r'<circle class="map-marker" cx="([\d.]+)" cy="([\d.]+)" r="\d+" fill="(#[0-9a-f]+)"',
        svg,
    )
    by_id = {m[0]: m for m in markers}
    assert set(by_id) == {str(at_site.pk), str(placed.pk)}
    assert by_id[str(at_site.pk)][3] == "#dc3545"  # critical: red
    assert by_id[str(placed.pk)][3] == "#ffc107"  # medium: yellow
    # North is up, east is right: the placed one lies north-east of the warehouse.
    assert float(by_id[str(placed.pk)][1]) > float(by_id[str(at_site.pk)][1])
    assert float(by_id[str(placed.pk)][2]) < float(by_id[str(at_site.pk)][2])
    assert 'class="map-site-major"' in svg  # the warehouse frames the drawing


def _list_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_list_page_costs_the_same_queries_for_3_or_30_incidents(
    client_for: Any, world: World, guard_okut: User, operator_okut: User, posts: Posts
) -> None:
    client = client_for(operator_okut)

    def add(n: int) -> None:
        for i in range(n):
            incident = report(
                guard_okut,
                world.warehouse_okut,
                zone_id=world.hall_a_okut.pk,
                severity=1 + i % 4,
                latitude=Decimal("-4.3") + Decimal(i) / 1000,
                longitude=Decimal("104.3"),
            )
            if i % 3 == 0:
                services.assign_responder(
                    actor=operator_okut, incident_id=incident.pk, user_id=operator_okut.pk
                )

    add(3)
    few = _list_queries(client, "/insiden/")
    add(27)
    many = _list_queries(client, "/insiden/")
    assert few == many
    assert _list_queries(client, "/insiden/?state=open&q=bocor") == _list_queries(
        client, "/insiden/?state=open&q=bocor&page=1"
    )


# ---------------------------------------------------------------------------------------------
# One incident


def test_detail_shows_the_whole_record(
    client_for: Any, world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    incident = report(
        guard_okut,
        world.warehouse_okut,
        zone_id=world.hall_a_okut.pk,
        photo=SimpleUploadedFile("bocor.jpg", jpeg(), "image/jpeg"),
    )
    photo = IncidentPhoto.objects.get(incident=incident)
    response = client_for(commissioner_okut).get(f"/insiden/{incident.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert incident.reference in html
    assert "Gudang A" in html and "Gudang Logistik KPU OKU Timur" in html
    assert str(incident.severity_definition) in html
    assert 'data-state="reported"' in html
    assert f'src="/api/v1/incidents/{incident.pk}/photos/{photo.pk}"' in html
    for event in IncidentEvent.objects.filter(incident=incident):
        assert f'href="/ledger/entries/{event.ledger_seq}/"' in html
    kinds = re.findall(r'<li data-kind="(\w+)">', html)
    assert kinds == ["reported", "photo", "escalated"]
    # Who was told, and the escalation state.
    notified = html[html.index('id="notified"') :]
    assert "Kapolres" in notified and "Komisioner" in notified
    assert 'id="tier">1<' in html
    # The commissioner may act; the form offers people who can respond in OKU Timur only.
    assert f'action="/insiden/{incident.pk}/terima/"' in html
    responders = html[
        html.index('id="responder"') : html.index("</select>", html.index('id="responder"'))
    ]
    assert f'value="{posts.kapolres.pk}"' in responders
    assert "OKU Timur" in responders and "KPU OKU<" not in responders
    assert f'value="{User.objects.get(username="kpu.oku").pk}"' not in responders


def test_bawaslu_reads_and_comments_but_gets_no_action_buttons(
    client_for: Any, world: World, guard_okut: User, bawaslu_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    html = client_for(bawaslu_okut).get(f"/insiden/{incident.pk}/").content.decode()
    assert incident.reference in html
    assert 'id="actions"' not in html and "/terima/" not in html
    assert 'id="comment-form"' in html
    assert 'id="photo-form"' not in html


def test_another_kabupaten_gets_404_and_changes_nothing(
    client_for: Any, world: World, guard_okut: User, kpu_oku: User, posts: Posts
) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    before = frozen(incident)
    client = client_for(kpu_oku)
    assert client.get(f"/insiden/{incident.pk}/").status_code == 404
    assert client.get(f"/insiden/{uuid.uuid4()}/").status_code == 404
    for action, data in [
        ("terima", {}),
        ("tangani", {}),
        ("selesai", {"resolution": "x"}),
        ("tutup", {}),
        ("buka-kembali", {"reason": "x"}),
        ("tugaskan", {"user": kpu_oku.pk}),
        ("komentar", {"text": "x"}),
        ("foto", {"photo": SimpleUploadedFile("a.jpg", jpeg(), "image/jpeg")}),
    ]:
        response = client.post(f"/insiden/{incident.pk}/{action}/", data)
        assert response.status_code == 404, action
    assert frozen(incident) == before


def _post(client: Any, incident: Incident, action: str, data: dict[str, Any] | None = None) -> str:
    response = client.post(f"/insiden/{incident.pk}/{action}/", data or {}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0] == (f"/insiden/{incident.pk}/", 302)
    return response.content.decode()


def test_the_lifecycle_through_the_page(
    client_for: Any,
    world: World,
    guard_okut: User,
    commissioner_okut: User,
    kapolres_okut: User,
    posts: Posts,
) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    client = client_for(commissioner_okut)

    def state() -> str:
        return Incident.objects.get(pk=incident.pk).state

    def has(kind: str) -> bool:
        return IncidentEvent.objects.filter(incident=incident, kind=kind).exists()

    html = _post(client, incident, "terima")
    assert state() == State.ACKNOWLEDGED and has(EventKind.ACKNOWLEDGED)
    assert "alert-success" in html
    assert Incident.objects.get(pk=incident.pk).acknowledged_by == commissioner_okut
    _post(client, incident, "tugaskan", {"user": kapolres_okut.pk})
    assert Incident.objects.get(pk=incident.pk).assignee == kapolres_okut
    assert has(EventKind.ASSIGNED)
    _post(client, incident, "tangani")
    assert state() == State.RESPONDING and has(EventKind.RESPONDING)
    _post(
        client,
        incident,
        "komentar",
        {"text": "Palet dipindah ke Gudang A", "id": str(uuid.uuid4())},
    )
    assert IncidentEvent.objects.get(incident=incident, kind=EventKind.COMMENT).text == (
        "Palet dipindah ke Gudang A"
    )
    picture = SimpleUploadedFile("a.jpg", jpeg(80, 60), "image/jpeg")
    _post(client, incident, "foto", {"photo": picture})
    assert IncidentPhoto.objects.filter(incident=incident).count() == 1 and has(EventKind.PHOTO)
    _post(client, incident, "selesai", {"resolution": "Atap ditambal, 2 karton DPD rusak"})
    assert state() == State.RESOLVED and has(EventKind.RESOLVED)
    assert Incident.objects.get(pk=incident.pk).resolution == "Atap ditambal, 2 karton DPD rusak"
    _post(client, incident, "tutup")
    assert state() == State.CLOSED and has(EventKind.CLOSED)
    _post(client, incident, "buka-kembali", {"reason": "Bocor lagi"})
    assert state() == State.ACKNOWLEDGED and has(EventKind.REOPENED)


def test_a_refused_action_is_an_alert_on_the_page_and_changes_nothing(
    client_for: Any, world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    before = frozen(incident)
    client = client_for(commissioner_okut)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("selesai", {"resolution": "   "}),  # no text
        ("tutup", {}),  # not resolved yet
        ("buka-kembali", {"reason": "x"}),  # not resolved yet
        ("tugaskan", {"user": "nobody"}),
        ("tugaskan", {"user": User.objects.get(username="kpu.oku").pk}),  # cannot respond here
        ("komentar", {"text": ""}),
        ("foto", {}),
        ("foto", {"photo": SimpleUploadedFile("a.jpg", b"not a picture", "image/jpeg")}),
    ]
    for action, data in attempts:
        html = _post(client, incident, action, data)
        assert 'class="alert alert-danger"' in html, action
        assert frozen(incident) == before, action


def test_bawaslu_cannot_acknowledge(
    client_for: Any, world: World, guard_okut: User, bawaslu_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    before = frozen(incident)
    client = client_for(bawaslu_okut)
    for action in ["terima", "tangani", "tutup"]:
        html = _post(client, incident, action)
        assert 'class="alert alert-danger"' in html
        assert frozen(incident) == before
    # Bawaslu's note goes on the timeline, as the service allows.
    _post(client, incident, "komentar", {"text": "Dicatat oleh Bawaslu"})
    assert IncidentEvent.objects.filter(incident=incident, actor=bawaslu_okut).count() == 1


def test_actions_need_post(client_for: Any, world: World, guard_okut: User, posts: Posts) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    assert client_for(guard_okut).get(f"/insiden/{incident.pk}/terima/").status_code == 405


# ---------------------------------------------------------------------------------------------
# The report page


def test_report_page_for_a_phone(client_for: Any, world: World, guard_okut: User) -> None:
    response = client_for(guard_okut).get("/insiden/lapor/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "incidents/report.js" in html
    assert html.count('name="category"') == 9 and html.count('name="severity"') == 4
    assert 'accept="image/*" capture="environment"' in html
    # The only site in the guard's scope is chosen already.
    assert re.search(
        r'<input class="form-check-input" type="radio" name="site" '
        rf'value="{world.warehouse_okut.pk}"[^>]* checked>',
        html,
    )
    # The nearest sites come from the place chooser once the phone knows where it is.
    assert 'data-purpose="report" data-endpoint="/sites/pilih/"' in html
    assert "Gudang Logistik KPU OKU<" not in html
    assert 'data-api="/api/v1/incidents"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    # Each category's button has a drawn icon, not an emoji that needs an emoji font.
    assert html.count('<span class="cat-icon" aria-hidden="true"><svg class="icon"') == 9
    assert not re.search("[\U0001f300-\U0001faff\u2600-\u27bf\ufe0f]", html.replace("✓", ""))


def test_acknowledge_and_take_charge_say_different_things(
    client_for: Any, world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world.warehouse_okut)
    response = client_for(commissioner_okut).get(f"/insiden/{incident.pk}/")
    html = response.content.decode()
    labels = {
        button: re.search(rf'id="{button}">([^<]+)</button>', html).group(1)  # type: ignore[union-attr]
        for button in ("acknowledge", "respond")
    }
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        assert labels == {
            "acknowledge": gettext("Acknowledge: I have seen it, stop the escalation"),
            "respond": gettext("Take charge: I lead the response"),
        }
    # Each begins with its own verb: the two cannot be told apart by one word only.
    first, second = (label.split(":")[0].lower() for label in labels.values())
    assert first not in second and second not in first


def test_report_page_tells_bawaslu_it_does_not_report(
    client_for: Any, world: World, bawaslu_okut: User
) -> None:
    html = client_for(bawaslu_okut).get("/insiden/lapor/").content.decode()
    assert 'id="report-form"' not in html


def test_report_without_javascript_posts_the_form(
    client_for: Any, world: World, guard_okut: User, posts: Posts
) -> None:
    client = client_for(guard_okut)
    report_id = str(uuid.uuid4())
    data = {
        "id": report_id,
        "category": "banjir",
        "severity": "2",
        "site": str(world.warehouse_okut.pk),
        "latitude": "-4.317600",
        "longitude": "104.353900",
        "description": "Air menetes di palet",
    }
    response = client.post(
        "/insiden/lapor/",
        {**data, "photo": SimpleUploadedFile("bocor.jpg", jpeg(), "image/jpeg")},
        follow=True,
    )
    assert response.redirect_chain == [(f"/insiden/{report_id}/", 302)]
    incident = Incident.objects.get(pk=report_id)
    assert (incident.category, incident.severity, incident.reporter) == ("banjir", 2, guard_okut)
    assert incident.latitude == Decimal("-4.317600")
    assert IncidentPhoto.objects.filter(incident=incident).count() == 1
    assert incident.reference in response.content.decode()
    # A double tap sends the same form again: still one incident.
    again = client.post("/insiden/lapor/", data)
    assert again.status_code == 302
    assert Incident.objects.filter(reporter=guard_okut).count() == 1


def test_a_report_form_with_a_file_that_is_not_an_image_is_sent_without_it(
    client_for: Any, world: World, guard_okut: User, posts: Posts
) -> None:
    report_id = str(uuid.uuid4())
    data = {"id": report_id, "category": "banjir", "severity": "2"}
    fake = SimpleUploadedFile("bocor.jpg", b"<html>not a photo</html>", "image/jpeg")
    response = client_for(guard_okut).post("/insiden/lapor/", {**data, "photo": fake}, follow=True)
    assert response.redirect_chain == [(f"/insiden/{report_id}/", 302)]
    assert Incident.objects.filter(pk=report_id).exists()
    assert not IncidentPhoto.objects.exists()
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        told = gettext("The photo was refused and the report was sent without it: %(reason)s") % {
            "reason": gettext("The photo is not a JPEG, PNG or WebP image that can be read.")
        }
    assert escape(told) in response.content.decode()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"severity": "2"}, 422),
        ({"category": "banjir", "severity": "9"}, 422),
        ({"category": "banjir"}, 422),
        ({"category": "banjir", "severity": "2", "latitude": "utara"}, 422),
        ({"category": "banjir", "severity": "2", "latitude": "10.5", "longitude": "104.1"}, 422),
        ({"category": "banjir", "severity": "2", "site": str(uuid.uuid4())}, 422),
    ],
)
def test_a_bad_report_form_is_shown_again_with_the_reason(
    client_for: Any, world: World, guard_okut: User, data: dict[str, str], status: int
) -> None:
    response = client_for(guard_okut).post("/insiden/lapor/", data)
    assert response.status_code == status
    assert 'id="report-error"' in response.content.decode()
    assert not Incident.objects.exists()


def test_a_neighbours_site_cannot_be_reported_on(
    client_for: Any, world: World, guard_okut: User
) -> None:
    data = {"category": "banjir", "severity": "2", "site": str(world.warehouse_oku.pk)}
    response = client_for(guard_okut).post("/insiden/lapor/", data)
    assert response.status_code == 422
    assert not Incident.objects.exists()


# ---------------------------------------------------------------------------------------------
# Waiting for my acknowledgement; the badge; statistics; the dashboard


def test_acknowledgements_page_and_nav_badge(
    client_for: Any,
    world: World,
    guard_okut: User,
    kapolres_okut: User,
    bawaslu_okut: User,
    posts: Posts,
) -> None:
    older = report(guard_okut, world.warehouse_okut, severity=2)
    newer = report(guard_okut, world.warehouse_okut, severity=1, category="kebakaran")
    client = client_for(kapolres_okut)
    html = client.get("/insiden/perlu-tanggapan/").content.decode()
    listed = re.findall(r'data-incident="([0-9a-f-]+)"', html)
    assert listed == [str(older.pk), str(newer.pk)]  # oldest first
    assert re.search(r'nav-count"[^>]*>2<span class="visually-hidden">', html)
    # Acknowledge from the list.
    client.post(f"/insiden/{older.pk}/terima/")
    assert Incident.objects.get(pk=older.pk).state == State.ACKNOWLEDGED
    html = client.get("/insiden/perlu-tanggapan/").content.decode()
    assert re.findall(r'data-incident="([0-9a-f-]+)"', html) == [str(newer.pk)]
    home = client.get("/").content.decode()
    assert re.search(r'nav-count"[^>]*>1<span class="visually-hidden">', home)
    # Bawaslu is told too, but only to watch: nothing waits for its acknowledgement.
    watcher = client_for(bawaslu_okut).get("/insiden/perlu-tanggapan/").content.decode()
    assert str(newer.pk) not in watcher
    assert "nav-count" not in watcher


def test_statistics_page_counts_like_the_api(
    client_for: Any,
    world: World,
    guard_okut: User,
    commissioner_okut: User,
    kpu_oku: User,
    posts: Posts,
) -> None:
    first = report(guard_okut, world.warehouse_okut)
    report(guard_okut, world.warehouse_okut)
    report(guard_okut, world.warehouse_okut, category="kebakaran", severity=1)
    services.acknowledge_incident(actor=commissioner_okut, incident_id=first.pk)
    report(kpu_oku, world.warehouse_oku)
    client = client_for(commissioner_okut)
    response = client.get("/insiden/statistik/")
    assert response.status_code == 200
    html = response.content.decode()
    api = client.get("/api/v1/incidents/stats").json()
    assert (api["total"], api["open"]) == (3, 3)
    assert 'id="stats-total">3<' in html and 'id="stats-open">3<' in html
    for row in api["by_category"]:
        block = html[html.index(f'data-category="{row["category"]}"') :]
        cells = re.findall(r'<td class="text-end">([^<]*)</td>', block)[:3]
        minutes = row["minutes_to_acknowledge"]
        expected = "—" if minutes is None else str(minutes)
        assert cells[:2] == [str(row["total"]), str(row["open"])]
        assert cells[2].replace(",", ".") == expected
    assert 'style="width: 100.0%"' in html  # the biggest bar is full
    assert "Gudang Logistik KPU OKU Timur" in html
    other = client_for(kpu_oku).get("/insiden/statistik/").content.decode()
    assert 'id="stats-total">1<' in other
    assert "Gudang Logistik KPU OKU Timur" not in other


def test_dashboard_links_open_incidents(
    client_for: Any, world: World, guard_okut: User, kpu_oku: User, posts: Posts
) -> None:
    report(guard_okut, world.warehouse_okut)
    html = client_for(guard_okut).get("/").content.decode()
    block = html[html.index('id="home-open-incidents"') :]
    assert 'href="/insiden/?state=open"' in html
    assert re.search(r'<div class="display-6 text-danger">1</div>', block)
    other = client_for(kpu_oku).get("/").content.decode()
    block = other[other.index('id="home-open-incidents"') :]
    assert re.search(r'<div class="display-6">0</div>', block)

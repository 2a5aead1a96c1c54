"""The gate's pages on a phone: the gate home, a walk-in's registration, one visit with its
decision and check-in, the decisions waiting for me, who is inside now and the badge scanner —
scoped to the kabupaten, each write one service call, refusals shown, never raised."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from siaga.access import services
from siaga.access.choices import GateEventKind, VisitState
from siaga.access.models import GateEvent, Presence, StandingPass, Visit, Visitor
from siaga.accounts.models import User
from siaga.accounts.nik import MESSAGES as NIK_MESSAGES
from siaga.ledger.models import Entry
from siaga.regions.timezones import WIB
from tests.access.conftest import (
    NIK_DRIVER,
    NIK_JOURNALIST,
    NIK_WORKER,
    Gate,
    open_all_day,
    png,
    visit_for,
)

pytestmark = pytest.mark.django_db

GATE = "/gerbang/"
WALK_IN = "/gerbang/tamu-baru/"
APPROVALS = "/gerbang/persetujuan/"
CHECK_IN = "/gerbang/masuk/"
CHECK_OUT = "/gerbang/keluar/"
SCAN = "/gerbang/pindai/"


@pytest.fixture
def as_user(client_for: Any) -> Callable[[User], Client]:
    """A signed-in phone that switched the pages to English (they speak Indonesian first)."""

    def make(user: User) -> Client:
        client: Client = client_for(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


@pytest.fixture
def open_gate(gate: Gate) -> Gate:
    """The gate at any hour: pages run on the real clock."""
    open_all_day(gate.site)
    return gate


def visit_url(visit: Visit) -> str:
    return f"/gerbang/kunjungan/{visit.pk}/"


def inside_url(gate: Gate) -> str:
    return f"/gerbang/{gate.site.pk}/di-dalam/"


def walk_in_now(gate: Gate, guard: User, host: User, **kwargs: Any) -> Visit:
    """A walk-in registered at the gate just now, waiting for ``host``."""
    now = timezone.now()
    return visit_for(gate, guard, walk_in=True, host=host, start=now, now=now, **kwargs)


def approved_now(gate: Gate, host: User, **kwargs: Any) -> Visit:
    """A guest the host registered for now: approved at once."""
    now = timezone.now()
    return visit_for(gate, host, start=now, now=now, **kwargs)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} on the page"
    return match.group(1)


def written() -> tuple[int, int, int, int, int]:
    """Everything a refused write must leave as it was."""
    return (
        Visit.objects.count(),
        Visitor.objects.count(),
        GateEvent.objects.count(),
        Presence.objects.count(),
        Entry.objects.count(),
    )


def walk_in_form(client: Client, gate: Gate, host: User, **fields: Any) -> dict[str, Any]:
    """The walk-in form as the guard fills it in, with the id the page chose for it."""
    if "id" not in fields:
        page = client.get(WALK_IN)
        assert page.status_code == 200
        fields["id"] = hidden(page.content.decode(), "id")
    leaves = (timezone.now() + dt.timedelta(hours=2)).astimezone(WIB)
    data: dict[str, Any] = {
        "site": str(gate.site.pk),
        "nik": NIK_DRIVER,
        "name": "Andi Sopir",
        "organisation": "PT Percetakan Sumatera",
        "phone": "0812 3456 7890",
        "purpose": "delivery",
        "purpose_text": "Kiriman surat suara DPR",
        "zones": [str(gate.gate_zone.pk)],
        "host": str(host.pk),
        "planned_end": leaves.strftime("%Y-%m-%dT%H:%M"),
        "vehicle_plate": "bg 1234 ab",
    }
    data.update(fields)
    return data


def messages_on(response: Any) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def refusal_on(response: Any) -> str:
    """The refusal a page answered with (its own status, never a redirect)."""
    alert = r'<div class="alert alert-danger" role="alert" id="[a-z-]+">([^<]*)<'
    match = re.search(alert, response.content.decode())
    assert match, "no refusal on the page"
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# The gate home


def test_gate_home_shows_the_guards_site_the_buttons_and_whos_expected(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    expected = approved_now(open_gate, operator_okut)
    walk_in_now(open_gate, guard_okut, operator_okut, nik=NIK_JOURNALIST, name="Sari Wartawan")
    services.check_in(actor=guard_okut, id=uuid.uuid4(), visit_id=expected.pk)
    later = approved_now(open_gate, operator_okut, nik=NIK_WORKER, name="Budi Pekerja")
    page = as_user(guard_okut).get(GATE)
    assert page.status_code == 200
    html = page.content.decode()
    # The only site in the guard's scope is chosen without asking.
    assert open_gate.site.name in html
    assert f'href="{WALK_IN}?site={open_gate.site.pk}"' in html
    assert f'href="{SCAN}?site={open_gate.site.pk}"' in html
    assert re.search(r'id="inside-count">1<', html)
    assert f'href="{inside_url(open_gate)}"' in html
    # Expected today: the requested and the approved, not the one already inside.
    assert "Sari Wartawan" in html and f'data-visit="{later.pk}"' in html
    assert f'data-visit="{expected.pk}"' not in html
    # A guard decides nothing.
    assert 'id="waiting"' not in html


def test_gate_home_lists_what_waits_for_the_hosts_decision(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = walk_in_now(open_gate, guard_okut, operator_okut)
    html = as_user(operator_okut).get(GATE).content.decode()
    waiting = html[html.index('id="waiting"') :]
    assert f'href="{visit_url(visit)}"' in waiting
    assert f'href="{APPROVALS}"' in waiting


def test_gate_home_of_another_kabupatens_site_is_404(
    as_user: Any, open_gate: Gate, kpu_oku: User
) -> None:
    assert as_user(kpu_oku).get(f"{GATE}?site={open_gate.site.pk}").status_code == 404
    assert as_user(kpu_oku).get(f"{GATE}?site=nonsense").status_code == 404


# ---------------------------------------------------------------------------------------------
# A walk-in


def test_walk_in_registration_creates_one_visit_and_one_visitor_even_when_sent_twice(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    client = as_user(guard_okut)
    data = walk_in_form(client, open_gate, operator_okut)
    data["photo"] = SimpleUploadedFile("ktp.png", png(), "image/png")
    before_visitors = Visitor.objects.count()
    first = client.post(WALK_IN, data)
    assert first.status_code == 302
    visit = Visit.objects.get()
    assert first["Location"] == visit_url(visit)
    data["photo"] = SimpleUploadedFile("ktp.png", png(), "image/png")
    again = client.post(WALK_IN, data)
    assert (again.status_code, again["Location"]) == (302, visit_url(visit))
    assert Visit.objects.count() == 1
    assert Visitor.objects.count() == before_visitors + 1
    assert str(visit.pk) == data["id"]
    assert (visit.state, visit.walk_in, visit.host, visit.registered_by) == (
        VisitState.REQUESTED,
        True,
        operator_okut,
        guard_okut,
    )
    assert list(visit.zones.all()) == [open_gate.gate_zone]
    assert (visit.purpose, visit.vehicle_plate) == ("delivery", "BG 1234 AB")
    visitor = Visitor.objects.by_nik(NIK_DRIVER).get()
    assert (visitor.name, visitor.phone) == ("Andi Sopir", "+6281234567890")
    assert visitor.photo_content_type == "image/png" and visitor.photo_sha256
    assert Entry.objects.filter(kind="access.visitor.photo").count() == 1
    assert Entry.objects.filter(kind="access.visit.registered").count() == 1
    # The host may leave by the time the guard typed, two hours on, in WIB.
    assert abs(visit.planned_end - (timezone.now() + dt.timedelta(hours=2))) < dt.timedelta(
        minutes=2
    )
    page = client.get(first["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Andi Sopir" in html and "1608********0001" in html and NIK_DRIVER not in html
    assert f"/api/v1/visitors/{visitor.pk}/photo" in html


def test_walk_in_with_a_bad_nik_shows_the_nik_error_and_writes_nothing(
    client_for: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    client = client_for(guard_okut)  # no language chosen: Bahasa Indonesia
    before = written()
    response = client.post(
        WALK_IN, walk_in_form(client, open_gate, operator_okut, nik="1608013205850001")
    )
    assert response.status_code == 422
    html = response.content.decode()
    with translation.override("id"):
        expected = str(NIK_MESSAGES["nik_birthdate_invalid"])
    assert expected.startswith("Digit ke-7")  # the catalogue's words, not the code's
    nik_error = re.search(r'data-error-for="nik">([^<]*)<', html)
    assert nik_error is not None and nik_error.group(1) == expected
    assert re.search(r'class="form-control form-control-lg is-invalid"[^>]*id="walk-in-nik"', html)
    # What was typed is still there.
    assert 'value="Andi Sopir"' in html and 'value="PT Percetakan Sumatera"' in html
    assert written() == before


def test_walk_in_refused_by_the_service_is_an_alert_with_the_values_kept(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    client = as_user(guard_okut)
    before = written()
    data = walk_in_form(client, open_gate, operator_okut, vehicle_plate="PLAT PALSU 99")
    response = client.post(WALK_IN, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(r'id="walk-in-error">This is not an Indonesian vehicle plate', html)
    assert re.search(r'data-error-for="vehicle_plate">This is not an Indonesian', html)
    assert 'value="Andi Sopir"' in html and f'value="{data["id"]}"' in html
    assert written() == before


def test_walk_in_with_a_photo_that_is_no_image_writes_nothing(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    client = as_user(guard_okut)
    before = written()
    data = walk_in_form(client, open_gate, operator_okut)
    data["photo"] = SimpleUploadedFile("ktp.jpg", b"not a picture", "image/jpeg")
    response = client.post(WALK_IN, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(r'data-error-for="photo">The photo is not a JPEG, PNG or WebP', html)
    assert 'value="Andi Sopir"' in html
    assert written() == before


def test_walk_in_by_someone_who_does_not_work_the_gate_is_refused(
    as_user: Any, open_gate: Gate, bawaslu_okut: User, operator_okut: User
) -> None:
    client = as_user(bawaslu_okut)
    page = client.get(WALK_IN).content.decode()
    assert 'id="walk-in-form"' not in page
    data = walk_in_form(client, open_gate, operator_okut, id=str(uuid.uuid4()))
    before = written()
    response = client.post(WALK_IN, data)
    assert response.status_code == 403
    assert written() == before


# ---------------------------------------------------------------------------------------------
# Deciding


def test_host_approves_on_the_approvals_page(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = walk_in_now(open_gate, guard_okut, operator_okut)
    client = as_user(operator_okut)
    page = client.get(APPROVALS).content.decode()
    assert f'action="/gerbang/kunjungan/{visit.pk}/setujui/"' in page
    response = client.post(f"{visit_url(visit)}setujui/", {"next": APPROVALS})
    assert (response.status_code, response["Location"]) == (302, APPROVALS)
    visit.refresh_from_db()
    assert (visit.state, visit.decided_by) == (VisitState.APPROVED, operator_okut)
    assert Entry.objects.filter(kind="access.visit.approved", subject_id=str(visit.pk)).count() == 1
    after = client.get(APPROVALS)
    assert "Approved" in messages_on(after)
    assert f'data-visit="{visit.pk}"' not in after.content.decode()


def test_host_denies_saying_why(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = walk_in_now(open_gate, guard_okut, operator_okut)
    response = as_user(operator_okut).post(
        f"{visit_url(visit)}tolak/", {"reason": "Tidak ada janji"}
    )
    assert (response.status_code, response["Location"]) == (302, visit_url(visit))
    visit.refresh_from_db()
    assert (visit.state, visit.deny_reason) == (VisitState.DENIED, "Tidak ada janji")
    html = as_user(guard_okut).get(visit_url(visit)).content.decode()
    assert "Tidak ada janji" in html and 'id="check-in-form"' not in html


def test_a_guard_may_not_approve_and_is_told_why(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = walk_in_now(open_gate, guard_okut, operator_okut)
    client = as_user(guard_okut)
    page = client.get(visit_url(visit)).content.decode()
    assert "/setujui/" not in page
    before = written()
    response = client.post(f"{visit_url(visit)}setujui/")
    assert response.status_code == 403
    assert "Only the host or a commissioner may decide on this visit." in refusal_on(response)
    visit.refresh_from_db()
    assert visit.state == VisitState.REQUESTED and visit.decided_by is None
    assert written() == before


def test_the_waiting_guards_page_polls_and_reloads_once_the_host_decides(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = walk_in_now(open_gate, guard_okut, operator_okut)
    client = as_user(guard_okut)
    html = client.get(visit_url(visit)).content.decode()
    assert f'hx-post="{visit_url(visit)}tunggu/"' in html and 'hx-trigger="every 5s"' in html
    assert 'id="check-in-submit" disabled' in html
    wait = f"{visit_url(visit)}tunggu/"
    poll = client.post(wait, {"since": "requested.no"}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 204 and "HX-Retarget" not in poll
    services.approve_visit(actor=operator_okut, visit_id=visit.pk)
    poll = client.post(wait, {"since": "requested.no"}, HTTP_HX_REQUEST="true")
    assert (poll.status_code, poll["HX-Retarget"]) == (200, "#visit-page")
    html = poll.content.decode()
    assert "every 5s" not in html and 'id="check-in-form"' in html
    assert 'id="check-in-submit" disabled' not in html
    # The poll is a POST: a GET of it is refused.
    assert client.get(wait, HTTP_HX_REQUEST="true").status_code == 405


def test_approvals_page_lists_only_what_waits_for_that_person(
    as_user: Any,
    open_gate: Gate,
    guard_okut: User,
    operator_okut: User,
    kapolres_okut: User,
    commissioner_okut: User,
    kpu_oku: User,
) -> None:
    mine = walk_in_now(open_gate, guard_okut, operator_okut)
    theirs = walk_in_now(
        open_gate, guard_okut, kapolres_okut, nik=NIK_JOURNALIST, name="Sari Wartawan"
    )
    approved = approved_now(open_gate, operator_okut, nik=NIK_WORKER, name="Budi Pekerja")

    def listed(user: User) -> set[uuid.UUID]:
        response = as_user(user).get(APPROVALS)
        assert response.status_code == 200
        html = response.content.decode()
        return {v.pk for v in (mine, theirs, approved) if f'data-visit="{v.pk}"' in html}

    assert listed(operator_okut) == {mine.pk}
    assert listed(kapolres_okut) == {theirs.pk, mine.pk}  # a commander decides for the site
    assert listed(commissioner_okut) == {mine.pk, theirs.pk}
    assert listed(guard_okut) == set()
    assert listed(kpu_oku) == set()


# ---------------------------------------------------------------------------------------------
# Someone of another kabupaten


def test_another_kabupatens_operator_gets_404_on_the_visit_and_nothing_changes(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User, kpu_oku: User
) -> None:
    waiting = walk_in_now(open_gate, guard_okut, operator_okut)
    approved = approved_now(open_gate, operator_okut, nik=NIK_JOURNALIST, name="Sari Wartawan")
    inside = approved_now(open_gate, operator_okut, nik=NIK_WORKER, name="Budi Pekerja")
    services.check_in(actor=guard_okut, id=uuid.uuid4(), visit_id=inside.pk)
    client = as_user(kpu_oku)
    before = written()
    states = dict(Visit.objects.values_list("pk", "state"))
    assert client.get(visit_url(waiting)).status_code == 404
    poll = client.post(f"{visit_url(waiting)}tunggu/", {"since": "x"}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 404
    assert client.post(f"{visit_url(waiting)}setujui/").status_code == 404
    assert client.post(f"{visit_url(waiting)}tolak/", {"reason": "x"}).status_code == 404
    check_in = {"id": str(uuid.uuid4()), "visit": str(approved.pk)}
    assert client.post(CHECK_IN, check_in).status_code == 404
    by_visit = {"id": str(uuid.uuid4()), "visit": str(inside.pk)}
    assert client.post(CHECK_OUT, by_visit).status_code == 404
    by_person = {"id": str(uuid.uuid4()), "visitor": str(inside.visitor_id)}
    assert client.post(CHECK_OUT, by_person).status_code == 404
    assert client.get(inside_url(open_gate)).status_code == 404
    assert client.get(f"{WALK_IN}?site={open_gate.site.pk}").status_code == 404
    walk_in = walk_in_form(client, open_gate, operator_okut, id=str(uuid.uuid4()))
    assert client.post(WALK_IN, walk_in).status_code == 404
    # A badge of OKU Timur is no badge to them.
    scanned = client.get(f"{SCAN}?badge={open_gate.guard_pass.qr_payload}")
    assert scanned.status_code == 404
    assert "Bripka Joko" not in scanned.content.decode()
    assert written() == before
    assert dict(Visit.objects.values_list("pk", "state")) == states


# ---------------------------------------------------------------------------------------------
# In and out


def test_guard_checks_a_guest_in_and_out_through_the_pages(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = approved_now(open_gate, operator_okut, zones=[open_gate.gate_zone])
    client = as_user(guard_okut)
    page = client.get(visit_url(visit)).content.decode()
    assert 'id="check-in-form"' in page
    assert f'value="{open_gate.gate_zone.pk}"' in page
    assert f'value="{open_gate.hall.pk}"' not in page  # not one of the visit's zones
    form = {
        "id": hidden(page[page.index('id="check-in-form"') :], "id"),
        "visit": str(visit.pk),
        "zone": str(open_gate.gate_zone.pk),
        "item_bag": "1",
        "item_phone": "2",
        "item_laptop": "",
        "vehicle_plate": "bg1234ab",
        "note": "Truk boks putih",
    }
    response = client.post(CHECK_IN, form)
    assert (response.status_code, response["Location"]) == (302, visit_url(visit))
    assert client.post(CHECK_IN, form).status_code == 302  # sent twice: one event
    event = GateEvent.objects.get()
    assert (event.kind, event.zone, event.visit, event.guard) == (
        GateEventKind.CHECK_IN,
        open_gate.gate_zone,
        visit,
        guard_okut,
    )
    assert str(event.pk) == form["id"]
    assert event.items == [
        {"kind": "bag", "count": 1, "label": ""},
        {"kind": "phone", "count": 2, "label": ""},
    ]
    assert (event.vehicle_plate, event.note) == ("BG 1234 AB", "Truk boks putih")
    assert Presence.objects.get().zone == open_gate.gate_zone
    visit.refresh_from_db()
    assert visit.state == VisitState.CHECKED_IN
    page = client.get(visit_url(visit))
    assert "Checked in: Andi Sopir, into Gerbang utama." in messages_on(page)
    html = page.content.decode()
    out = {"id": hidden(html[html.index('id="check-out-form"') :], "id"), "visit": str(visit.pk)}
    response = client.post(CHECK_OUT, out)
    assert (response.status_code, response["Location"]) == (302, visit_url(visit))
    assert not Presence.objects.exists()
    assert GateEvent.objects.filter(kind=GateEventKind.CHECK_OUT).count() == 1
    visit.refresh_from_db()
    assert visit.state == VisitState.CHECKED_OUT


def test_a_refused_check_in_is_an_alert_and_nobody_goes_in(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = approved_now(open_gate, operator_okut, zones=[open_gate.hall])
    before = written()
    response = as_user(guard_okut).post(
        CHECK_IN,
        {"id": str(uuid.uuid4()), "visit": str(visit.pk), "zone": str(open_gate.hall.pk)},
    )
    assert response.status_code == 409
    assert "Nobody enters Gudang A alone" in refusal_on(response)
    assert written() == before


def test_check_in_of_a_guest_still_waiting_is_refused(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visit = walk_in_now(open_gate, guard_okut, operator_okut)
    before = written()
    response = as_user(guard_okut).post(CHECK_IN, {"id": str(uuid.uuid4()), "visit": str(visit.pk)})
    assert response.status_code == 409
    assert "This visit is not approved for entry" in refusal_on(response)
    assert written() == before


def _pass_now(gate: Gate, commissioner: User, nik: str, name: str) -> StandingPass:
    now = timezone.now()
    return services.issue_pass(
        actor=commissioner,
        person=services.PersonData(nik=nik, name=name),
        site_id=gate.site.pk,
        zone_ids=[gate.gate_zone.pk, gate.hall.pk],
        kind="worker",
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=5),
        now=now,
    ).obj


def test_scanning_a_badge_shows_the_holder_and_lets_them_in_and_out(
    as_user: Any, open_gate: Gate, guard_okut: User, commissioner_okut: User
) -> None:
    issued = _pass_now(open_gate, commissioner_okut, NIK_WORKER, "Budi Pekerja")
    client = as_user(guard_okut)
    assert 'id="badge-input"' in client.get(SCAN).content.decode()
    page = client.get(SCAN, {"badge": issued.qr_payload})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="holder-name">Budi Pekerja<' in html and 'id="pass-refusal"' not in html
    back = f"{SCAN}?site={open_gate.site.pk}"
    form = {
        "id": hidden(html[html.index('id="scan-in-form"') :], "id"),
        "badge": issued.qr_payload,
        "site": str(open_gate.site.pk),
        "zone": "",
        "next": back,
    }
    response = client.post(CHECK_IN, form)
    assert (response.status_code, response["Location"]) == (302, back)
    presence = Presence.objects.get()
    assert (presence.visitor, presence.zone, presence.standing_pass) == (
        issued.visitor,
        None,
        issued,
    )
    html = client.get(SCAN, {"badge": issued.qr_payload}).content.decode()
    assert 'id="scan-out-form"' in html
    out = {
        "id": hidden(html[html.index('id="scan-out-form"') :], "id"),
        "badge": issued.qr_payload,
        "next": back,
    }
    response = client.post(CHECK_OUT, out)
    assert (response.status_code, response["Location"]) == (302, back)
    assert not Presence.objects.exists()
    assert list(GateEvent.objects.order_by("at").values_list("kind", flat=True)) == [
        GateEventKind.CHECK_IN,
        GateEventKind.CHECK_OUT,
    ]


def test_an_unknown_badge_says_so_and_nothing_happens(
    as_user: Any, open_gate: Gate, guard_okut: User
) -> None:
    client = as_user(guard_okut)
    page = client.get(SCAN, {"badge": "SIAGA-PASS:tidak-ada"})
    assert page.status_code == 404
    assert "This badge is not known." in page.content.decode()
    before = written()
    response = client.post(CHECK_IN, {"id": str(uuid.uuid4()), "badge": "SIAGA-PASS:tidak-ada"})
    assert response.status_code == 404
    assert "This badge is not known." in refusal_on(response)
    assert written() == before


# ---------------------------------------------------------------------------------------------
# Who is inside now


NIKS = [f"160801120585{n:04d}" for n in range(101, 121)]


def _inside(gate: Gate, guard: User, host: User, count: int) -> list[Visit]:
    visits = []
    for n in range(count):
        visit = approved_now(gate, host, nik=NIKS[n], name=f"Tamu {n:02d}", zones=[gate.gate_zone])
        zone = gate.gate_zone.pk if n % 2 else None
        services.check_in(actor=guard, id=uuid.uuid4(), visit_id=visit.pk, zone_id=zone)
        visits.append(visit)
    return visits


def _board_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_inside_board_shows_everyone_per_zone_and_marks_overstays(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    _first, _second, third = _inside(open_gate, guard_okut, operator_okut, 3)
    Presence.objects.filter(visitor=third.visitor).update(
        expected_out=timezone.now() - dt.timedelta(minutes=30)
    )
    html = as_user(guard_okut).get(inside_url(open_gate)).content.decode()
    assert re.search(r'id="inside-total">3<', html)
    assert re.search(r'data-zone="grounds" data-count="2"', html)
    assert re.search(rf'data-zone="{open_gate.gate_zone.pk}" data-count="1"', html)
    # The storage hall is marked as a two-officer zone, empty as it is.
    assert re.search(rf'class="card inside-zone guarded" data-zone="{open_gate.hall.pk}"', html)
    overstaying = re.findall(
        r'class="list-group-item person overstay" data-visitor="([^"]+)"', html
    )
    assert overstaying == [str(third.visitor_id)]
    assert html.count('class="btn btn-outline-dark check-out"') == 3
    assert 'hx-trigger="every 10s"' in html


def test_inside_board_refreshes_as_a_fragment_and_checks_out_from_it(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    [visit] = _inside(open_gate, guard_okut, operator_okut, 1)
    client = as_user(guard_okut)
    fragment = client.get(inside_url(open_gate), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and fragment.startswith('<div id="inside-board"')
    response = client.post(
        CHECK_OUT,
        {
            "id": hidden(fragment, "id"),
            "visitor": str(visit.visitor_id),
            "next": inside_url(open_gate),
        },
    )
    assert (response.status_code, response["Location"]) == (302, inside_url(open_gate))
    assert not Presence.objects.exists()


def test_bawaslu_sees_the_board_but_no_check_out_buttons(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User, bawaslu_okut: User
) -> None:
    _inside(open_gate, guard_okut, operator_okut, 2)
    html = as_user(bawaslu_okut).get(inside_url(open_gate)).content.decode()
    assert re.search(r'id="inside-total">2<', html)
    assert "check-out" not in html


def test_inside_board_runs_the_same_queries_for_2_and_20_people(
    as_user: Any, open_gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    visits = _inside(open_gate, guard_okut, operator_okut, 20)
    client = as_user(guard_okut)
    url = inside_url(open_gate)
    _board_queries(client, url)  # the session and the scope are warm
    many = _board_queries(client, url)
    for visit in visits[2:]:
        services.check_out(actor=guard_okut, id=uuid.uuid4(), visit_id=visit.pk)
    assert Presence.objects.count() == 2
    few = _board_queries(client, url)
    assert many == few

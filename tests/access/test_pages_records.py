"""The gate's record pages: the log with its filters and Excel export, the evacuation roll call,
standing passes and badges, a site's rules and the watchlist — scoped to the kabupaten, and
every refusal shown on the page with nothing changed."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import segno
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from siaga.access import services
from siaga.access.models import GateEvent, SiteRules, StandingPass, Visitor
from siaga.accounts.models import User
from siaga.ledger.models import Entry
from tests.access.conftest import (
    DAY,
    NIK_DRIVER,
    NIK_SUSPECT,
    NIK_WORKER,
    WIB,
    Gate,
    png,
    visit_for,
)
from tests.conftest import World

pytestmark = pytest.mark.django_db

NIK_OKU = "1601011505900007"
SITE_NAME = "Gudang Logistik KPU OKU Timur"


def english(client_for: Any, user: User) -> Client:
    """A signed-in client that switched the interface to English (the footer's cookie), so that
    assertions hold whatever the Indonesian catalogue says."""
    client: Client = client_for(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _in(actor: User, *, now: dt.datetime = DAY, **kwargs: Any) -> GateEvent:
    return services.check_in(actor=actor, id=uuid.uuid4(), now=now, **kwargs).obj


def _out(actor: User, *, now: dt.datetime, **kwargs: Any) -> GateEvent:
    return services.check_out(actor=actor, id=uuid.uuid4(), now=now, **kwargs).obj


def event_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-event="([0-9a-f-]+)"', html)


def ids(*events: GateEvent) -> list[str]:
    return [str(e.pk) for e in events]


def newest_first(*events: GateEvent) -> list[str]:
    return ids(*sorted(events, key=lambda e: (e.at, e.pk), reverse=True))


@dataclass
class Traffic:
    """A morning at the OKU Timur warehouse, a week-old visit, and one entry at OKU's."""

    old_in: GateEvent
    old_out: GateEvent
    driver_in: GateEvent
    operator_in: GateEvent
    guard_in: GateEvent
    operator_hall: GateEvent
    guard_hall: GateEvent
    driver_out: GateEvent
    oku_in: GateEvent

    @property
    def okut(self) -> list[GateEvent]:
        return [
            self.old_in,
            self.old_out,
            self.driver_in,
            self.operator_in,
            self.guard_in,
            self.operator_hall,
            self.guard_hall,
            self.driver_out,
        ]


def oku_entry(world: World, admin_oku: User, *, now: dt.datetime) -> GateEvent:
    issued = services.issue_pass(
        actor=admin_oku,
        person=services.PersonData(nik=NIK_OKU, name="Dewi OKU"),
        site_id=world.warehouse_oku.pk,
        zone_ids=[],
        kind="staff",
        valid_from=DAY - dt.timedelta(days=1),
        valid_until=DAY + dt.timedelta(days=30),
        now=DAY - dt.timedelta(days=1),
    ).obj
    return _in(admin_oku, badge=issued.qr_payload, now=now)


@pytest.fixture
def traffic(
    gate: Gate, world: World, operator_okut: User, guard_okut: User, admin_oku: User
) -> Traffic:
    week_ago = DAY - dt.timedelta(days=7)
    operator_badge = gate.operator_pass.qr_payload
    old_in = _in(guard_okut, badge=operator_badge, zone_id=gate.gate_zone.pk, now=week_ago)
    old_out = _out(guard_okut, badge=operator_badge, now=week_ago + dt.timedelta(hours=1))
    visit = visit_for(gate, operator_okut)
    driver_in = _in(
        guard_okut,
        visit_id=visit.pk,
        zone_id=gate.gate_zone.pk,
        vehicle_plate="bg1234ab",
        items=[
            services.Item(kind="document", count=2, label="Surat jalan"),
            services.Item(kind="bag", count=1),
        ],
    )
    operator_in = _in(
        guard_okut,
        badge=operator_badge,
        zone_id=gate.gate_zone.pk,
        now=DAY + dt.timedelta(minutes=10),
    )
    guard_in = _in(guard_okut, badge=gate.guard_pass.qr_payload, now=DAY + dt.timedelta(minutes=20))
    operator_hall = _in(
        guard_okut,
        badge=operator_badge,
        zone_id=gate.hall.pk,
        companion_ids=[guard_in.visitor_id],
        now=DAY + dt.timedelta(minutes=30),
    )
    guard_hall = GateEvent.objects.get(zone=gate.hall, visitor_id=guard_in.visitor_id)
    driver_out = _out(guard_okut, visit_id=visit.pk, now=DAY + dt.timedelta(minutes=40))
    oku_in = oku_entry(world, admin_oku, now=DAY + dt.timedelta(minutes=5))
    return Traffic(
        old_in,
        old_out,
        driver_in,
        operator_in,
        guard_in,
        operator_hall,
        guard_hall,
        driver_out,
        oku_in,
    )


# ---------------------------------------------------------------------------------------------
# The gate log


def test_log_shows_the_kabupatens_events_newest_first_in_local_time(
    client_for: Any, traffic: Traffic, commissioner_okut: User
) -> None:
    response = english(client_for, commissioner_okut).get("/gerbang/log/")
    assert response.status_code == 200
    html = response.content.decode()
    assert event_ids(html) == newest_first(*traffic.okut)
    assert str(traffic.oku_in.pk) not in html and "Dewi OKU" not in html
    driver_in = traffic.driver_in
    row = html.split(f'<tr data-event="{driver_in.pk}">')[1].split("</tr>")[0]
    assert ">10:00 <" in row and "WIB" in row and "31 Jan 2029" in row
    assert "Andi Sopir" in row and "1608********0001" in row and NIK_DRIVER not in html
    assert "→ Gerbang utama" in row
    assert "BG 1234 AB" in row and "2× Surat jalan, 1× Bag" in row
    assert driver_in.badge in row and driver_in.badge.startswith("KJ-")
    assert f'href="/ledger/entries/{driver_in.ledger_seq}/"' in row
    assert f">#{driver_in.ledger_seq}</a>" in row
    # The move into the hall names who went along.
    hall_row = html.split(f'<tr data-event="{traffic.operator_hall.pk}">')[1].split("</tr>")[0]
    assert "→ Gudang A" in hall_row and "(from Gerbang utama)" in hall_row
    assert "Bripka Joko" in hall_row
    # The export form carries no filter here (it is a POST: its search may be a NIK).
    export = html.split('action="/gerbang/log/export.xlsx"')[1].split("</form>")[0]
    assert 'type="hidden" name="csrfmiddlewaretoken"' in export
    assert 'name="q"' not in export and 'name="site"' not in export


def test_log_filters_by_zone_kind_person_nik_and_dates(
    client_for: Any, traffic: Traffic, gate: Gate, guard_okut: User
) -> None:
    client = english(client_for, guard_okut)

    def shown(query: str) -> list[str]:
        response = client.get(f"/gerbang/log/?{query}", HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html  # htmx swaps the results only
        return event_ids(html)

    t = traffic
    assert shown(f"zone={gate.hall.pk}") == newest_first(t.operator_hall, t.guard_hall)
    # The gate zone: who entered it, and who left the site from it.
    assert shown(f"zone={gate.gate_zone.pk}&kind=check_out") == newest_first(
        t.old_out, t.driver_out
    )
    assert shown("kind=check_out") == newest_first(t.old_out, t.driver_out)
    assert shown("q=percetakan") == newest_first(t.driver_in, t.driver_out)
    assert shown("q=bg+1234") == ids(t.driver_in)
    # A NIK is searched in a POST body, never in a URL: in a link it finds nothing and is not
    # shown back.
    assert shown(f"q={NIK_DRIVER}") == []
    searched = client.post("/gerbang/log/", {"q": NIK_DRIVER}, HTTP_HX_REQUEST="true")
    assert event_ids(searched.content.decode()) == newest_first(t.driver_in, t.driver_out)
    linked = client.get(f"/gerbang/log/?q={NIK_DRIVER}").content.decode()
    assert "Search by NIK with the search form" in linked
    assert NIK_DRIVER not in linked.replace(f"q={NIK_DRIVER}", "")
    # Part of a NIK finds nobody: NIKs are found whole or not at all.
    assert shown(f"q={NIK_DRIVER[:8]}") == []
    assert shown("since=2029-01-31") == newest_first(*t.okut[2:])
    assert shown("until=2029-01-30") == newest_first(t.old_in, t.old_out)
    assert shown("since=2029-01-24&until=2029-01-24") == newest_first(t.old_in, t.old_out)
    assert shown(f"site={gate.site.pk}&q=joko") == newest_first(t.guard_in, t.guard_hall)
    # A stale link with a bad value still opens the log, unfiltered on that value.
    assert len(shown("zone=nonsense&since=31-01-2029")) == len(t.okut)
    reversed_range = client.get("/gerbang/log/?since=2029-01-31&until=2029-01-30")
    html = reversed_range.content.decode()
    assert reversed_range.status_code == 200
    assert event_ids(html) == []
    assert "The end date comes before the start date." in html
    # The export form follows the filters.
    html = client.get(f"/gerbang/log/?zone={gate.hall.pk}&q=joko").content.decode()
    export = html.split('action="/gerbang/log/export.xlsx"')[1].split("</form>")[0]
    assert '<input type="hidden" name="q" value="joko">' in export
    assert f'<input type="hidden" name="zone" value="{gate.hall.pk}">' in export
    # A chosen site offers its roll call and rules.
    html = client.get(f"/gerbang/log/?site={gate.site.pk}").content.decode()
    assert f'href="/gerbang/{gate.site.pk}/apel/"' in html
    assert f'href="/gerbang/{gate.site.pk}/aturan/"' in html


def test_bawaslu_reads_the_log_and_another_kabupaten_sees_none_of_it(
    client_for: Any, traffic: Traffic, bawaslu_okut: User, kpu_oku: User, admin_oku: User
) -> None:
    html = english(client_for, bawaslu_okut).get("/gerbang/log/").content.decode()
    assert event_ids(html) == newest_first(*traffic.okut)
    for neighbour in (kpu_oku, admin_oku):
        response = english(client_for, neighbour).get("/gerbang/log/")
        assert response.status_code == 200
        html = response.content.decode()
        assert event_ids(html) == ids(traffic.oku_in)
        for name in ("Andi Sopir", "Rina Operator", "Bripka Joko", SITE_NAME):
            assert name not in html
        # Aiming the filter at OKU Timur shows nothing either.
        aimed = client_for(neighbour).get(f"/gerbang/log/?site={traffic.driver_in.site_id}")
        assert event_ids(aimed.content.decode()) == []


def test_log_page_runs_the_same_queries_for_3_or_30_events(
    client_for: Any, gate: Gate, guard_okut: User, bawaslu_okut: User
) -> None:
    badge = gate.operator_pass.qr_payload

    def walk_in_and_out(first: int, count: int) -> None:
        for n in range(first, first + count):
            at = DAY + dt.timedelta(minutes=n)
            if n % 2 == 0:
                _in(guard_okut, badge=badge, zone_id=gate.gate_zone.pk, now=at)
            else:
                _out(guard_okut, badge=badge, now=at)

    client = english(client_for, bawaslu_okut)
    client.get("/gerbang/log/")  # whatever a process caches once is not the page's cost

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/gerbang/log/")
        assert response.status_code == 200
        return len(captured.captured_queries)

    walk_in_and_out(0, 3)
    few = queries()
    walk_in_and_out(3, 27)
    assert GateEvent.objects.count() == 30
    many = queries()
    assert event_ids(client.get("/gerbang/log/").content.decode()) == newest_first(
        *GateEvent.objects.all()
    )
    assert many == few


# ---------------------------------------------------------------------------------------------
# The export


def test_export_holds_exactly_the_filtered_rows(
    client_for: Any, traffic: Traffic, gate: Gate, bawaslu_okut: User
) -> None:
    response = english(client_for, bawaslu_okut).post("/gerbang/log/export.xlsx", {"q": NIK_DRIVER})
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="siaga-gate-log-{today}.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Time (local)", "Time zone", "Site")
    out, in_ = traffic.driver_out, traffic.driver_in
    assert rows[1:] == [
        (
            dt.datetime(2029, 1, 31, 10, 40),
            "WIB",
            SITE_NAME,
            "Out",
            None,
            "Gerbang utama",
            "Andi Sopir",
            "1608********0001",
            "PT Percetakan",
            in_.badge,
            "Jaga",  # the guard by name, not by account
            None,
            None,
            None,
            None,
            out.ledger_seq,
        ),
        (
            dt.datetime(2029, 1, 31, 10, 0),
            "WIB",
            SITE_NAME,
            "In",
            "Gerbang utama",
            None,
            "Andi Sopir",
            "1608********0001",
            "PT Percetakan",
            in_.badge,
            "Jaga",  # the guard by name, not by account
            None,
            "2× Surat jalan, 1× Bag",
            "BG 1234 AB",
            None,
            in_.ledger_seq,
        ),
    ]
    # The ledger entry is a number to look up, not a count: no thousands separator.
    ledger_entry = next(sheet.iter_rows(min_row=2, max_row=2))[-1]
    assert (ledger_entry.value, ledger_entry.number_format) == (out.ledger_seq, "General")


def test_export_of_another_kabupaten_holds_none_of_these_rows(
    client_for: Any, traffic: Traffic, commissioner_okut: User, kpu_oku: User
) -> None:
    def names(user: User) -> list[tuple[Any, ...]]:
        response = english(client_for, user).get("/gerbang/log/export.xlsx")
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        assert sheet is not None
        return [(row[2], row[6]) for row in sheet.iter_rows(min_row=2, values_only=True)]

    assert names(kpu_oku) == [("Gudang Logistik KPU OKU", "Dewi OKU")]
    ours = names(commissioner_okut)
    assert len(ours) == len(traffic.okut)
    assert {site for site, _name in ours} == {SITE_NAME}


def test_export_with_a_reversed_range_goes_back_to_the_log_with_the_reason(
    client_for: Any, traffic: Traffic, bawaslu_okut: User
) -> None:
    client = english(client_for, bawaslu_okut)
    response = client.get("/gerbang/log/export.xlsx?since=2029-01-31&until=2029-01-01")
    assert response.status_code == 302
    assert response["Location"] == "/gerbang/log/?since=2029-01-31&until=2029-01-01"
    assert (
        "The end date comes before the start date."
        in client.get(response["Location"]).content.decode()
    )


# ---------------------------------------------------------------------------------------------
# The roll call


def test_roll_call_lists_exactly_who_is_inside_by_zone(
    client_for: Any, traffic: Traffic, gate: Gate, bawaslu_okut: User
) -> None:
    response = english(client_for, bawaslu_okut).get(f"/gerbang/{gate.site.pk}/apel/")
    assert response.status_code == 200
    html = response.content.decode()
    people = re.findall(r'<tr data-person="([0-9a-f-]+)"', html)
    # The driver checked out; the operator and the guard are in the hall.
    assert sorted(people) == sorted(
        [str(traffic.operator_hall.visitor_id), str(traffic.guard_hall.visitor_id)]
    )
    hall = html.split(f'data-zone="{gate.hall.pk}"')[1].split("</section>")[0]
    assert "Rina Operator" in hall and "Bripka Joko" in hall
    assert 'id="roll-total">2<' in html
    assert 'type="checkbox" id="tick-' in html
    assert 'id="roll-print"' in html and "window.print()" in html
    assert "@media print" in html
    assert "Printed at" in html and "WIB" in html
    assert "Andi Sopir" not in html
    assert f'href="/gerbang/{gate.site.pk}/di-dalam/"' in html  # back to the inside board


def test_roll_call_of_an_empty_site_says_so(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    html = english(client_for, commissioner_okut).get(f"/gerbang/{gate.site.pk}/apel/")
    assert 'id="roll-total">0<' in html.content.decode()
    assert "Nobody is checked in at this site." in html.content.decode()


def test_roll_call_of_another_kabupatens_site_is_not_found(
    client_for: Any, traffic: Traffic, gate: Gate, kpu_oku: User, guard_okut: User
) -> None:
    assert client_for(kpu_oku).get(f"/gerbang/{gate.site.pk}/apel/").status_code == 404
    assert client_for(guard_okut).get(f"/gerbang/{uuid.uuid4()}/apel/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Standing passes


def pass_form(gate: Gate, **changes: Any) -> dict[str, Any]:
    today = timezone.localdate()
    form: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "site": str(gate.site.pk),
        "kind": "worker",
        "nik": NIK_WORKER,
        "name": "Sari Pekerja",
        "phone": "0812 3456 7890",
        "organisation": "Tenaga sortir-lipat",
        "user": "",
        "officer": "",
        "zones": [str(gate.gate_zone.pk)],
        "weekdays": ["1", "2", "3", "4", "5"],
        "start_time": "07:00",
        "end_time": "16:00",
        "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=14)).isoformat(),
    }
    form.update(changes)
    return form


def counts() -> tuple[int, int, int]:
    return StandingPass.objects.count(), Visitor.objects.count(), Entry.objects.count()


def test_commissioner_issues_a_pass_through_the_page(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    client = english(client_for, commissioner_okut)
    page = client.get("/gerbang/pass/").content.decode()
    assert 'id="issue-form"' in page
    form = pass_form(gate)
    response = client.post("/gerbang/pass/", form)
    issued = StandingPass.objects.get(pk=form["id"])
    assert response.status_code == 302
    assert response["Location"] == f"/gerbang/pass/{issued.pk}/badge/"
    assert (issued.site, issued.kind, issued.weekdays) == (gate.site, "worker", "12345")
    assert (issued.start_time, issued.end_time) == (dt.time(7, 0), dt.time(16, 0))
    assert list(issued.zones.all()) == [gate.gate_zone]
    today = timezone.localdate()
    assert issued.valid_from == dt.datetime.combine(today, dt.time.min, WIB)
    assert issued.valid_until == dt.datetime.combine(
        today + dt.timedelta(days=14), dt.time.max, WIB
    )
    assert issued.issued_by == commissioner_okut
    holder = issued.visitor
    assert (holder.nik, holder.name, holder.phone) == (NIK_WORKER, "Sari Pekerja", "+6281234567890")
    assert Entry.objects.filter(kind="access.pass.issued", subject_id=str(issued.pk)).count() == 1
    badge = client.get(response["Location"]).content.decode()
    assert "Pass issued. Print the badge below." in badge
    # The list shows it, with its badge and revoke buttons.
    listing = client.get("/gerbang/pass/").content.decode()
    row = listing.split(f'<tr data-pass="{issued.pk}" data-status="valid">')[1].split("</tr>")[0]
    assert "Sari Pekerja" in row and "Hired worker (day pass)" in row
    assert "07:00–16:00" in row and "Mon–Fri" in row
    assert f'href="/gerbang/pass/{issued.pk}/badge/"' in row
    assert f'action="/gerbang/pass/{issued.pk}/cabut/"' in row


def test_a_double_submit_of_the_issue_form_is_one_pass(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    client = english(client_for, commissioner_okut)
    form = pass_form(gate)
    first = client.post("/gerbang/pass/", form)
    before = counts()
    again = client.post("/gerbang/pass/", form, follow=True)
    assert first.status_code == 302
    assert again.redirect_chain == [(first["Location"], 302)]
    assert "This pass was already issued; nothing new was created." in again.content.decode()
    assert counts() == before
    assert StandingPass.objects.filter(visitor__in=Visitor.objects.by_nik(NIK_WORKER)).count() == 1


def test_a_guard_may_not_issue_a_pass(client_for: Any, gate: Gate, guard_okut: User) -> None:
    client = english(client_for, guard_okut)
    page = client.get("/gerbang/pass/")
    assert page.status_code == 200
    assert 'id="issue-form"' not in page.content.decode()
    before = counts()
    response = client.post("/gerbang/pass/", pass_form(gate))
    assert response.status_code == 403
    assert "You may not do this at this site." in response.content.decode()
    assert counts() == before
    assert not Visitor.objects.by_nik(NIK_WORKER).exists()


def test_a_refused_issue_keeps_what_was_typed(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    client = english(client_for, commissioner_okut)
    form = pass_form(gate, phone="12345", name="Sari Pekerja")
    before = counts()
    response = client.post("/gerbang/pass/", form)
    assert response.status_code == 422
    html = response.content.decode()
    assert "This is not a valid Indonesian phone number" in html
    assert 'class="alert alert-danger"' in html
    assert f'name="id" value="{form["id"]}"' in html
    assert f'value="{NIK_WORKER}"' in html
    assert 'value="Sari Pekerja"' in html and 'value="12345"' in html
    assert f'value="{gate.gate_zone.pk}" id="zone-{gate.gate_zone.pk}" checked' in html
    assert 'value="6" id="day-6">' in html and 'value="5" id="day-5" checked>' in html
    assert counts() == before
    # No day ticked is refused before the service is asked.
    response = client.post("/gerbang/pass/", pass_form(gate, weekdays=[]))
    assert response.status_code == 422
    assert "Tick at least one day." in response.content.decode()
    assert counts() == before


def test_badge_shows_the_qr_only_to_those_who_may_issue(
    client_for: Any,
    gate: Gate,
    commissioner_okut: User,
    guard_okut: User,
    bawaslu_okut: User,
    kpu_oku: User,
) -> None:
    issued = gate.operator_pass
    qr = segno.make(issued.qr_payload, error="m").svg_inline(
        scale=1, border=4, omitsize=True, svgclass="badge-qr", lineclass="badge-qr-line"
    )
    url = f"/gerbang/pass/{issued.pk}/badge/"
    response = english(client_for, commissioner_okut).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert qr in html and 'class="badge-qr"' in html
    assert "Rina Operator" in html and "Staff" in html and SITE_NAME in html
    assert "Gerbang utama, Gudang A" in html
    assert 'id="badge-print"' in html
    assert issued.badge_code not in html  # only inside the QR
    for stranger, status in ((guard_okut, 403), (bawaslu_okut, 403), (kpu_oku, 404)):
        refused = client_for(stranger).get(url)
        assert refused.status_code == status
        assert 'class="badge-qr"' not in refused.content.decode()
    assert (
        client_for(commissioner_okut).get(f"/gerbang/pass/{uuid.uuid4()}/badge/").status_code == 404
    )


def test_badge_shows_the_holders_photo_when_there_is_one(
    client_for: Any, gate: Gate, commissioner_okut: User, guard_okut: User
) -> None:
    holder = gate.operator_pass.visitor
    services.set_visitor_photo(actor=guard_okut, visitor_id=holder.pk, photo=io.BytesIO(png()))
    html = client_for(commissioner_okut).get(f"/gerbang/pass/{gate.operator_pass.pk}/badge/")
    assert f'src="/api/v1/visitors/{holder.pk}/photo"' in html.content.decode()


def test_commissioner_revokes_a_pass_and_its_badge_is_void(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    client = english(client_for, commissioner_okut)
    issued = gate.guard_pass
    response = client.post(f"/gerbang/pass/{issued.pk}/cabut/", follow=True)
    assert response.redirect_chain == [("/gerbang/pass/", 302)]
    assert "Pass revoked: its badge no longer opens the gate." in response.content.decode()
    issued.refresh_from_db()
    assert issued.revoked_at is not None and issued.revoked_by == commissioner_okut
    assert Entry.objects.filter(kind="access.pass.revoked", subject_id=str(issued.pk)).count() == 1
    badge = client.get(f"/gerbang/pass/{issued.pk}/badge/").content.decode()
    assert 'class="badge-qr"' not in badge and 'id="badge-void">Revoked<' in badge
    # Revoked passes leave the default list, and come back with "show all".
    assert f'data-pass="{issued.pk}"' not in client.get("/gerbang/pass/").content.decode()
    everything = client.get("/gerbang/pass/?show=all").content.decode()
    assert f'<tr data-pass="{issued.pk}" data-status="revoked"' in everything


def test_a_guard_or_a_neighbour_may_not_revoke(
    client_for: Any, gate: Gate, guard_okut: User, kpu_oku: User
) -> None:
    issued = gate.operator_pass
    url = f"/gerbang/pass/{issued.pk}/cabut/"
    before = (counts(), StandingPass.objects.filter(pk=issued.pk).values().get())
    response = english(client_for, guard_okut).post(url)
    assert response.status_code == 403
    assert "You may not do this at this site." in response.content.decode()
    assert client_for(kpu_oku).post(url).status_code == 404
    assert client_for(guard_okut).get(url).status_code == 405
    assert (counts(), StandingPass.objects.filter(pk=issued.pk).values().get()) == before


def test_passes_of_another_kabupaten_are_not_listed(
    client_for: Any, gate: Gate, traffic: Traffic, kpu_oku: User, bawaslu_okut: User
) -> None:
    theirs = client_for(kpu_oku).get("/gerbang/pass/?show=all").content.decode()
    assert "Rina Operator" not in theirs and "Bripka Joko" not in theirs
    assert "Dewi OKU" in theirs
    ours = english(client_for, bawaslu_okut).get("/gerbang/pass/?show=all").content.decode()
    assert set(re.findall(r'<tr data-pass="([0-9a-f-]+)"', ours)) == {
        str(gate.operator_pass.pk),
        str(gate.guard_pass.pk),
    }
    # Bawaslu reads; it neither issues nor revokes.
    assert 'id="issue-form"' not in ours and "/cabut/" not in ours


# ---------------------------------------------------------------------------------------------
# The site's rules


def rules_form(**changes: Any) -> dict[str, str]:
    form = {
        "two_person_rule": "on",
        "after_hours_start": "19:00",
        "after_hours_end": "06:30",
        "max_per_zone": "8",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_commissioner_edits_the_site_rules(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    client = english(client_for, commissioner_okut)
    url = f"/gerbang/{gate.site.pk}/aturan/"
    page = client.get(url).content.decode()
    assert 'id="rules-form"' in page
    response = client.post(url, rules_form(two_person_rule=None), follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert "Access rules saved." in response.content.decode()
    rules = SiteRules.objects.get(site=gate.site)
    assert (
        rules.two_person_rule,
        rules.after_hours_start,
        rules.after_hours_end,
        rules.max_per_zone,
        rules.updated_by,
    ) == (False, dt.time(19, 0), dt.time(6, 30), 8, commissioner_okut)
    assert Entry.objects.filter(kind="access.rules.updated").count() == 1
    # An empty limit is no limit.
    client.post(url, rules_form(max_per_zone=""))
    rules.refresh_from_db()
    assert (rules.two_person_rule, rules.max_per_zone) == (True, None)


def test_a_refused_rules_change_keeps_what_was_typed(
    client_for: Any, gate: Gate, kapolres_okut: User
) -> None:
    client = english(client_for, kapolres_okut)
    url = f"/gerbang/{gate.site.pk}/aturan/"
    before = (SiteRules.objects.filter(site=gate.site).values().first(), Entry.objects.count())
    response = client.post(url, rules_form(max_per_zone="0", after_hours_start="20:15"))
    assert response.status_code == 422
    html = response.content.decode()
    assert "The most people in one zone is at least 1" in html
    assert 'name="max_per_zone" value="0"' in html and 'value="20:15"' in html
    response = client.post(url, rules_form(after_hours_start="late"))
    assert response.status_code == 422
    assert "A time is hours and minutes" in response.content.decode()
    after = (SiteRules.objects.filter(site=gate.site).values().first(), Entry.objects.count())
    assert after == before


def test_the_guard_reads_the_rules_and_may_not_change_them(
    client_for: Any, gate: Gate, guard_okut: User, kpu_oku: User
) -> None:
    client = english(client_for, guard_okut)
    url = f"/gerbang/{gate.site.pk}/aturan/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="rules-form"' not in html
    # Nobody set rules for this site: the defaults.
    assert 'id="rules-two-person">On<' in html
    assert 'id="rules-after-hours">18:00–07:00 WIB<' in html
    assert "Nobody has changed them: the defaults apply." in html
    before = (SiteRules.objects.filter(site=gate.site).values().first(), Entry.objects.count())
    refused = client.post(url, rules_form(two_person_rule=None))
    assert refused.status_code == 403
    assert "You may not do this at this site." in refused.content.decode()
    assert client_for(kpu_oku).post(url, rules_form()).status_code == 404
    assert client_for(kpu_oku).get(url).status_code == 404
    after = (SiteRules.objects.filter(site=gate.site).values().first(), Entry.objects.count())
    assert after == before


# ---------------------------------------------------------------------------------------------
# The watchlist


def watch_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-visitor="([0-9a-f-]+)"', html)


def test_kapolres_adds_and_removes_a_watchlisted_person(
    client_for: Any, gate: Gate, kapolres_okut: User
) -> None:
    client = english(client_for, kapolres_okut)
    response = client.post(
        "/gerbang/daftar-pantau/",
        {"listed": "1", "nik": NIK_SUSPECT, "name": "Budi", "reason": "DPO pencurian"},
        follow=True,
    )
    assert response.redirect_chain == [("/gerbang/daftar-pantau/", 302)]
    html = response.content.decode()
    suspect = Visitor.objects.by_nik(NIK_SUSPECT).get()
    assert (suspect.watchlisted, suspect.watchlist_reason, suspect.watchlisted_by) == (
        True,
        "DPO pencurian",
        kapolres_okut,
    )
    assert "Budi is on the watchlist" in html
    assert watch_rows(html) == [str(suspect.pk)]
    assert "DPO pencurian" in html and "1608********0006" in html and NIK_SUSPECT not in html
    removed = client.post(
        "/gerbang/daftar-pantau/", {"listed": "0", "visitor": str(suspect.pk)}, follow=True
    )
    assert "Budi is off the watchlist." in removed.content.decode()
    assert watch_rows(removed.content.decode()) == []
    suspect.refresh_from_db()
    assert (suspect.watchlisted, suspect.watchlist_reason) == (False, "")
    kinds = Entry.objects.filter(subject_id=str(suspect.pk), kind__startswith="access.watchlist.")
    assert list(kinds.order_by("seq").values_list("kind", flat=True)) == [
        "access.watchlist.listed",
        "access.watchlist.unlisted",
    ]


def test_a_refused_listing_keeps_what_was_typed(
    client_for: Any, gate: Gate, commissioner_okut: User
) -> None:
    client = english(client_for, commissioner_okut)
    before = (Visitor.objects.count(), Entry.objects.count())
    response = client.post(
        "/gerbang/daftar-pantau/",
        {"listed": "1", "nik": "1608011111800006", "name": "Budi", "reason": ""},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Say why this person is on the watchlist." in html
    assert 'value="1608011111800006"' in html and 'value="Budi"' in html
    assert (Visitor.objects.count(), Entry.objects.count()) == before


def test_bawaslu_reads_the_watchlist_and_the_guard_may_not_open_it(
    client_for: Any,
    gate: Gate,
    kapolres_okut: User,
    bawaslu_okut: User,
    guard_okut: User,
    kpu_oku: User,
    admin_oku: User,
) -> None:
    suspect = services.set_watchlist(
        actor=kapolres_okut, nik=NIK_SUSPECT, name="Budi", listed=True, reason="DPO"
    )
    frozen = (Visitor.objects.filter(pk=suspect.pk).values().get(), Entry.objects.count())
    bawaslu = english(client_for, bawaslu_okut)
    page = bawaslu.get("/gerbang/daftar-pantau/").content.decode()
    assert watch_rows(page) == [str(suspect.pk)]
    assert 'id="watchlist-form"' not in page and "Remove" not in page
    assert 'id="watchlist-read-only"' in page
    refused = bawaslu.post("/gerbang/daftar-pantau/", {"listed": "0", "visitor": str(suspect.pk)})
    assert refused.status_code == 403
    guard = client_for(guard_okut)
    assert guard.get("/gerbang/daftar-pantau/").status_code == 403
    assert (
        guard.post(
            "/gerbang/daftar-pantau/", {"listed": "0", "visitor": str(suspect.pk)}
        ).status_code
        == 403
    )
    assert 'href="/gerbang/daftar-pantau/"' not in guard.get("/gerbang/log/").content.decode()
    assert client_for(kpu_oku).get("/gerbang/daftar-pantau/").status_code == 403
    # A neighbouring kabupaten's approver has a watchlist page, without OKU Timur's listing.
    theirs = client_for(admin_oku)
    page = theirs.get("/gerbang/daftar-pantau/").content.decode()
    assert watch_rows(page) == [] and "Budi" not in page
    lift = theirs.post("/gerbang/daftar-pantau/", {"listed": "0", "visitor": str(suspect.pk)})
    assert lift.status_code == 404
    assert (Visitor.objects.filter(pk=suspect.pk).values().get(), Entry.objects.count()) == frozen


@pytest.mark.parametrize(
    "url",
    [
        "/gerbang/log/",
        "/gerbang/log/export.xlsx",
        "/gerbang/pass/",
        "/gerbang/daftar-pantau/",
    ],
)
def test_anonymous_is_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_an_export_with_rows_leaves_its_trace_in_the_ledger(
    client_for: Any, traffic: Traffic, bawaslu_okut: User
) -> None:
    before = Entry.objects.filter(kind="access.log.exported").count()
    site = traffic.driver_in.site
    response = english(client_for, bawaslu_okut).get(
        "/gerbang/log/export.xlsx", {"site": str(site.pk)}
    )
    assert response.status_code == 200
    entry = Entry.objects.filter(kind="access.log.exported").latest("seq")
    assert Entry.objects.filter(kind="access.log.exported").count() == before + 1
    assert entry.actor == bawaslu_okut.username
    assert entry.region == site.region_id
    assert json.loads(entry.payload) == {"filters": {"site": str(site.pk)}, "rows": 8}


def test_an_export_searched_by_nik_keeps_no_nik_in_the_ledger(
    client_for: Any, traffic: Traffic, bawaslu_okut: User
) -> None:
    # In a link, a NIK is refused before anything is exported or recorded.
    before = Entry.objects.count()
    linked = english(client_for, bawaslu_okut).get("/gerbang/log/export.xlsx", {"q": NIK_DRIVER})
    assert (linked.status_code, linked["Location"]) == (302, "/gerbang/log/")
    assert Entry.objects.count() == before
    response = english(client_for, bawaslu_okut).post("/gerbang/log/export.xlsx", {"q": NIK_DRIVER})
    assert response.status_code == 200
    entry = Entry.objects.filter(kind="access.log.exported").latest("seq")
    assert NIK_DRIVER not in entry.payload
    query = json.loads(entry.payload)["filters"]["q"]
    assert query.startswith("hmac:") and len(query) == len("hmac:") + 64
    # The same search gives the same hash: an auditor holding the key can still match it.
    english(client_for, bawaslu_okut).post("/gerbang/log/export.xlsx", {"q": f" {NIK_DRIVER} "})
    again = Entry.objects.filter(kind="access.log.exported").latest("seq")
    assert json.loads(again.payload)["filters"]["q"] == query


def test_log_filters_by_a_typed_site_code_and_offers_only_that_sites_zones(
    client_for: Any, traffic: Traffic, gate: Gate, world: World, guard_okut: User
) -> None:
    client = english(client_for, guard_okut)
    typed = client.post("/gerbang/log/", {"site_code": gate.site.code.lower(), "q": "joko"})
    html = typed.content.decode()
    assert typed.status_code == 200
    assert event_ids(html) == newest_first(traffic.guard_in, traffic.guard_hall)
    zones = html.split('id="log-zone"')[1].split("</select>")[0]
    assert set(re.findall(r'<option value="([0-9a-f-]+)"', zones)) == {
        str(z.pk) for z in gate.site.zones.all()
    }
    # Another kabupaten's warehouse is no site of this guard's: nothing listed, and why.
    foreign = client.post("/gerbang/log/", {"site_code": world.warehouse_oku.code})
    html = foreign.content.decode()
    assert foreign.status_code == 200 and event_ids(html) == []
    assert f"No site with the code {world.warehouse_oku.code} in your scope." in html
    # No site chosen: no zone is offered (a kabupaten's zones would be hundreds).
    plain = client.get("/gerbang/log/").content.decode()
    assert (
        re.findall(
            r'<option value="[0-9a-f-]+"', plain.split('id="log-zone"')[1].split("</select>")[0]
        )
        == []
    )
    # An htmx answer brings the zones of the chosen site beside the results.
    swapped = client.post(
        "/gerbang/log/", {"site": str(gate.site.pk)}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="log-zone" name="zone" hx-swap-oob="true"' in swapped
    assert f'value="{gate.hall.pk}"' in swapped


def test_log_pages_keep_a_posted_search(
    client_for: Any, traffic: Traffic, guard_okut: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siaga.access.views import records

    monkeypatch.setattr(records, "PAGE_SIZE", 1)
    client = english(client_for, guard_okut)
    first = client.post("/gerbang/log/", {"q": NIK_DRIVER}).content.decode()
    assert event_ids(first) == newest_first(traffic.driver_out)
    # The next page is asked by the filters' own form (a POST: the NIK never goes in a link).
    assert 'type="submit" form="log-filters" name="page" value="2"' in first
    assert "?page=2" not in first
    second = client.post("/gerbang/log/", {"q": NIK_DRIVER, "page": "2"}).content.decode()
    assert event_ids(second) == ids(traffic.driver_in)

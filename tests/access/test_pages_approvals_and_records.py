"""Issue 22 at the gate's pages: after hours every page says which approval is still missing
and who can give it, the guard is offered no check-in until then and his page updates on each
decision; a refused check-in keeps what was typed; refusals answer their status (403, not a
redirect); a walk-in with a NIK this region knows shows "known as …", and a different name is
a confirmed, recorded correction of the record, never of past visits; a NIK is never cut."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from siaga.access import services
from siaga.access.choices import VisitState
from siaga.access.models import GateEvent, Presence, SiteRules, Visit, Visitor, VisitorChange
from siaga.accounts.models import User
from siaga.ledger.models import Entry
from siaga.privacy.models import LookupLog
from siaga.regions.timezones import WIB
from tests.access.conftest import NIK_DRIVER, NIK_JOURNALIST, Gate, open_all_day, visit_for

pytestmark = pytest.mark.django_db

WALK_IN = "/gerbang/tamu-baru/"
LOOKUP = "/gerbang/tamu-baru/cek-nik/"
APPROVALS = "/gerbang/persetujuan/"
CHECK_IN = "/gerbang/masuk/"
CHECK_OUT = "/gerbang/keluar/"
# Kecamatan 99 of OKU Timur does not exist: a NIK with it is accepted with a warning.
NIK_UNKNOWN_KECAMATAN = "1608991508950001"


def english(client_for: Any, user: User) -> Client:
    client: Client = client_for(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def visit_url(visit: Visit) -> str:
    return f"/gerbang/kunjungan/{visit.pk}/"


def after_hours_now(gate: Gate) -> SiteRules:
    """The site's after-hours window around the present moment, whatever the hour."""
    local = timezone.now().astimezone(WIB)
    rules, _ = SiteRules.objects.update_or_create(
        site=gate.site,
        defaults={
            "after_hours_start": (local - dt.timedelta(hours=1)).time().replace(microsecond=0),
            "after_hours_end": (local + dt.timedelta(hours=3)).time().replace(microsecond=0),
        },
    )
    return rules


def walk_in_now(gate: Gate, guard: User, host: User, **kwargs: Any) -> Visit:
    now = timezone.now()
    return visit_for(gate, guard, walk_in=True, host=host, start=now, now=now, **kwargs)


def missing_on(html: str) -> list[str]:
    return re.findall(r'data-missing="([a-z_]+)"', html)


def refusal_on(response: Any) -> str:
    match = re.search(
        r'<div class="alert alert-danger" role="alert" id="[a-z-]+">([^<]*)<',
        response.content.decode(),
    )
    assert match, "no refusal on the page"
    return match.group(1)


def written() -> tuple[int, ...]:
    return (
        Visit.objects.count(),
        Visitor.objects.count(),
        VisitorChange.objects.count(),
        GateEvent.objects.count(),
        Presence.objects.count(),
        Entry.objects.count(),
    )


def poll(client: Client, visit: Visit, stamp: str, typed: dict[str, str] | None = None) -> Any:
    """The waiting page's poll, with what the guard typed into the check-in form."""
    form = {"visit": str(visit.pk), **typed} if typed else {}
    return client.post(
        f"{visit_url(visit)}tunggu/", {"since": stamp, **form}, HTTP_HX_REQUEST="true"
    )


def swapped(response: Any) -> bool:
    """The poll answered with the page again, to swap in place of the old one."""
    return (
        response.status_code == 200
        and response["HX-Retarget"] == "#visit-page"
        and response["HX-Reselect"] == "#visit-page"
        and response["HX-Reswap"] == "outerHTML"
    )


def may_check_in(html: str) -> bool:
    """The check-in form is there and its button on (while approvals are missing it is there
    to fill in, its button off)."""
    button = (
        html.split('id="check-in-submit"')[1].split(">")[0]
        if 'id="check-in-submit"' in html
        else ""
    )
    return 'id="check-in-form"' in html and "disabled" not in button


# ---------------------------------------------------------------------------------------------
# After hours


def test_after_hours_each_page_says_what_is_missing_and_the_guard_waits_for_both(
    client_for: Any,
    gate: Gate,
    guard_okut: User,
    operator_okut: User,
    commissioner_okut: User,
) -> None:
    after_hours_now(gate)
    visit = walk_in_now(gate, guard_okut, operator_okut)
    guard = english(client_for, guard_okut)
    html = guard.get(visit_url(visit)).content.decode()
    assert missing_on(html) == ["decision", "after_hours"]
    assert "a commissioner&#x27;s after-hours approval" in html
    assert 'id="check-in-form"' in html and not may_check_in(html)
    assert f'hx-post="{visit_url(visit)}tunggu/"' in html
    assert """hx-vals='{"since": "requested.no"}'""" in html

    # The host approves: she is told what is still missing, not that the guest may go in.
    host = english(client_for, operator_okut)
    approvals = host.get(APPROVALS).content.decode()
    assert missing_on(approvals) == ["decision", "after_hours"]
    response = host.post(f"{visit_url(visit)}setujui/", follow=True)
    text = " ".join(str(m) for m in response.context["messages"])
    assert "Still missing: a commissioner's after-hours approval" in text
    assert "the guard can let the guest in" not in text

    # The guard's page saw the host's decision, kept what he typed, and still lets nobody in.
    answer = poll(guard, visit, "requested.no", {"note": "Membawa dua kardus", "item_bag": "2"})
    assert swapped(answer)
    html = answer.content.decode()
    assert missing_on(html) == ["after_hours"]
    assert not may_check_in(html)
    assert 'value="Membawa dua kardus"' in html
    assert poll(guard, visit, "approved.no").status_code == 204

    # The commissioner finds it waiting for her, approves; the guard's page updates again.
    commissioner = english(client_for, commissioner_okut)
    assert missing_on(commissioner.get(APPROVALS).content.decode()) == ["after_hours"]
    response = commissioner.post(f"{visit_url(visit)}setujui/", {"next": APPROVALS}, follow=True)
    assert "Approved: the guard can let the guest in." in " ".join(
        str(m) for m in response.context["messages"]
    )
    visit.refresh_from_db()
    assert (visit.state, visit.after_hours_approved_by) == (VisitState.APPROVED, commissioner_okut)
    answer = poll(guard, visit, "approved.no", {"note": "Membawa dua kardus"})
    assert swapped(answer)
    html = answer.content.decode()
    assert missing_on(html) == [] and 'id="waiting-for-decision"' not in html
    assert may_check_in(html) and 'value="Membawa dua kardus"' in html


def test_a_visit_reaching_into_the_night_says_so_but_lets_in_now(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    local = timezone.now().astimezone(WIB)
    SiteRules.objects.update_or_create(
        site=gate.site,
        defaults={
            "after_hours_start": (local + dt.timedelta(hours=1)).time().replace(microsecond=0),
            "after_hours_end": (local + dt.timedelta(hours=1, minutes=1))
            .time()
            .replace(microsecond=0),
        },
    )
    now = timezone.now()
    visit = visit_for(gate, operator_okut, start=now, now=now, hours=3)
    assert visit.after_hours and visit.state == VisitState.APPROVED
    html = english(client_for, guard_okut).get(visit_url(visit)).content.decode()
    assert missing_on(html) == ["after_hours_later"]
    assert 'id="check-in-form"' in html


def test_an_after_hours_check_in_without_the_commissioner_is_refused_with_409(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    after_hours_now(gate)
    visit = walk_in_now(gate, guard_okut, operator_okut)
    services.approve_visit(actor=operator_okut, visit_id=visit.pk)
    before = written()
    response = english(client_for, guard_okut).post(
        CHECK_IN, {"id": str(uuid.uuid4()), "visit": str(visit.pk), "note": "Truk"}
    )
    assert response.status_code == 409
    assert "after hours" in refusal_on(response)
    assert missing_on(response.content.decode()) == ["after_hours"]
    assert written() == before


def test_a_refused_check_in_keeps_the_note_items_plate_zone_and_companions(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User, commissioner_okut: User
) -> None:
    open_all_day(gate.site)
    # Sari is inside on the grounds; with the guest she is no KPU or Polri officer.
    now = timezone.now()
    inside = visit_for(
        gate, commissioner_okut, nik=NIK_JOURNALIST, name="Sari", zones=[], start=now, now=now
    )
    services.check_in(actor=guard_okut, id=uuid.uuid4(), visit_id=inside.pk)
    visit = visit_for(gate, commissioner_okut, zones=[gate.hall], start=now, now=now)
    companion = str(inside.visitor_id)
    before = written()
    form = {
        "id": str(uuid.uuid4()),
        "visit": str(visit.pk),
        "zone": str(gate.hall.pk),
        "companions": [companion],
        "item_bag": "2",
        "item_laptop": "1",
        "item_document": "3",
        "vehicle_plate": "BG 1 AB",
        "note": "Truk boks putih",
    }
    response = english(client_for, guard_okut).post(CHECK_IN, form)
    assert response.status_code == 409
    assert "Gudang A" in refusal_on(response)
    assert written() == before
    html = response.content.decode()
    assert f'name="id" value="{form["id"]}"' in html
    assert (
        'id="check-in-note" name="note" maxlength="500" autocomplete="off" value="Truk boks putih"'
        in html
    )
    assert 'value="BG 1 AB"' in html
    assert re.search(r'id="item-bag" placeholder="0" value="2"', html)
    assert re.search(r'id="item-laptop" placeholder="0" value="1"', html)
    assert re.search(r'id="item-document" placeholder="0" value="3"', html)
    assert re.search(rf'id="zone-{gate.hall.pk}" autocomplete="off" checked', html)
    assert re.search(rf'id="companion-{companion}" checked', html)


def test_a_bad_plate_at_check_in_is_422_and_keeps_the_form(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    now = timezone.now()
    visit = visit_for(gate, operator_okut, start=now, now=now)
    before = written()
    response = english(client_for, guard_okut).post(
        CHECK_IN,
        {"id": str(uuid.uuid4()), "visit": str(visit.pk), "vehicle_plate": "12345", "note": "x"},
    )
    assert response.status_code == 422
    assert "not an Indonesian vehicle plate" in refusal_on(response)
    assert 'value="12345"' in response.content.decode()
    assert written() == before


# ---------------------------------------------------------------------------------------------
# 403, not a redirect


def test_who_does_not_guard_the_gate_is_answered_403_at_check_in_and_out(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User, bawaslu_okut: User
) -> None:
    open_all_day(gate.site)
    now = timezone.now()
    visit = visit_for(gate, operator_okut, start=now, now=now)
    client = english(client_for, bawaslu_okut)
    before = written()
    response = client.post(CHECK_IN, {"id": str(uuid.uuid4()), "visit": str(visit.pk)})
    assert response.status_code == 403
    assert written() == before
    services.check_in(actor=guard_okut, id=uuid.uuid4(), visit_id=visit.pk)
    before = written()
    by_visit = client.post(CHECK_OUT, {"id": str(uuid.uuid4()), "visit": str(visit.pk)})
    assert by_visit.status_code == 403
    by_person = client.post(CHECK_OUT, {"id": str(uuid.uuid4()), "visitor": str(visit.visitor_id)})
    assert by_person.status_code == 403
    assert refusal_on(by_person)
    assert written() == before


def test_a_guard_who_denies_is_answered_403_and_nothing_changes(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    visit = walk_in_now(gate, guard_okut, operator_okut)
    before = written()
    response = english(client_for, guard_okut).post(f"{visit_url(visit)}tolak/", {"reason": "x"})
    assert response.status_code == 403
    assert "Only the host or a commissioner may decide" in refusal_on(response)
    visit.refresh_from_db()
    assert visit.state == VisitState.REQUESTED
    assert written() == before


# ---------------------------------------------------------------------------------------------
# Known as …


def test_the_look_up_shows_whom_the_region_knows_and_is_logged(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    visit_for(gate, operator_okut, start=timezone.now(), now=timezone.now())
    client = english(client_for, guard_okut)
    response = client.post(LOOKUP, {"site": str(gate.site.pk), "nik": NIK_DRIVER})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-code="found"' in html
    assert 'id="known-name">Andi Sopir<' in html
    assert 'id="known-organisation">PT Percetakan<' in html
    log = LookupLog.objects.get()
    assert (log.user, log.answer, log.channel) == (guard_okut, "found", "web")

    unknown = client.post(LOOKUP, {"site": str(gate.site.pk), "nik": NIK_JOURNALIST})
    assert 'data-code="visitor_not_known_here"' in unknown.content.decode()
    assert "Andi" not in unknown.content.decode()
    assert LookupLog.objects.filter(answer="not_found", channel="web").count() == 1


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("160801120585000", ""),  # still being typed: not looked up
        ("16080112058500011", "nik_length"),  # a 17th digit: refused, never cut
        ("160801120585000A", "nik_not_digits"),
        ("1608013205850001", "nik_birthdate_invalid"),
    ],
)
def test_the_look_up_of_what_is_no_nik_says_why_and_logs_nothing(
    client_for: Any, gate: Gate, guard_okut: User, typed: str, code: str
) -> None:
    response = english(client_for, guard_okut).post(
        LOOKUP, {"site": str(gate.site.pk), "nik": typed}
    )
    assert response.status_code == 200
    assert f'data-code="{code}"' in response.content.decode()
    assert LookupLog.objects.count() == 0


def test_the_look_up_is_for_gate_operators_of_the_site(
    client_for: Any, gate: Gate, bawaslu_okut: User, kpu_oku: User
) -> None:
    body = {"site": str(gate.site.pk), "nik": NIK_DRIVER}
    assert client_for(bawaslu_okut).post(LOOKUP, body).status_code == 403
    assert client_for(kpu_oku).post(LOOKUP, body).status_code == 404
    assert LookupLog.objects.count() == 0


def test_a_nik_with_an_unknown_kecamatan_is_warned_of_not_refused(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    client = english(client_for, guard_okut)
    fragment = client.post(LOOKUP, {"site": str(gate.site.pk), "nik": NIK_UNKNOWN_KECAMATAN})
    assert 'data-warning="nik_region_unknown"' in fragment.content.decode()
    response = client.post(WALK_IN, walk_in_form(gate, operator_okut, nik=NIK_UNKNOWN_KECAMATAN))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "not in the current Kemendagri data" in " ".join(
        str(m) for m in page.context["messages"]
    )
    assert Visit.objects.count() == 1


def walk_in_form(gate: Gate, host: User, **fields: Any) -> dict[str, Any]:
    leaves = (timezone.now() + dt.timedelta(hours=2)).astimezone(WIB)
    return {
        "id": str(uuid.uuid4()),
        "site": str(gate.site.pk),
        "nik": NIK_DRIVER,
        "name": "Andi Sopir",
        "organisation": "PT Percetakan",
        "purpose": "delivery",
        "host": str(host.pk),
        "planned_end": leaves.strftime("%Y-%m-%dT%H:%M"),
        **fields,
    }


def test_a_seventeen_digit_nik_is_refused_and_not_cut(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    client = english(client_for, guard_okut)
    page = client.get(WALK_IN).content.decode()
    nik_input = re.search(r'<input[^>]*id="walk-in-nik"[^>]*>', page)
    assert nik_input and "maxlength" not in nik_input.group(0)
    before = written()
    response = client.post(WALK_IN, walk_in_form(gate, operator_okut, nik=NIK_DRIVER + "1"))
    assert response.status_code == 422
    assert response.context["form"].errors.as_data()["nik"][0].code == "nik_length"
    assert written() == before


def test_a_different_name_for_a_known_nik_asks_first_and_writes_nothing(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    visit_for(gate, operator_okut, start=timezone.now(), now=timezone.now())
    client = english(client_for, guard_okut)
    before = written()
    response = client.post(WALK_IN, walk_in_form(gate, operator_okut, name="Andi Saputra"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "known here under another name" in html
    assert 'id="known-name">Andi Sopir<' in html
    assert 'id="walk-in-confirm-correction"' in html
    assert written() == before
    assert LookupLog.objects.filter(answer="found", channel="web").count() == 1


def test_a_confirmed_correction_changes_the_record_not_past_visits(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    earlier = visit_for(gate, operator_okut, start=timezone.now(), now=timezone.now())
    client = english(client_for, guard_okut)
    response = client.post(
        WALK_IN,
        walk_in_form(gate, operator_okut, name="Andi Saputra", confirm_correction="on"),
    )
    assert response.status_code == 302
    visitor = Visitor.objects.by_nik(NIK_DRIVER).get()
    assert visitor.name == "Andi Saputra"
    change = VisitorChange.objects.get(visitor=visitor)
    assert (change.field, change.old_value, change.changed_by) == ("name", "Andi Sopir", guard_okut)
    earlier.refresh_from_db()
    assert earlier.visitor_name == "Andi Sopir"
    latest = Visit.objects.exclude(pk=earlier.pk).get()
    assert latest.visitor_name == "Andi Saputra"


def test_the_same_name_for_a_known_nik_needs_no_confirmation(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    visit_for(gate, operator_okut, start=timezone.now(), now=timezone.now())
    response = english(client_for, guard_okut).post(
        WALK_IN, walk_in_form(gate, operator_okut, organisation="")
    )
    assert response.status_code == 302
    assert VisitorChange.objects.count() == 0


def test_the_guard_reads_what_is_missing_in_indonesian(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    after_hours_now(gate)
    visit = walk_in_now(gate, guard_okut, operator_okut)
    services.approve_visit(actor=operator_okut, visit_id=visit.pk)
    html = client_for(guard_okut).get(visit_url(visit)).content.decode()
    assert "Menunggu persetujuan komisioner di luar jam kerja" in html
    assert "Halaman ini diperbarui sendiri pada setiap keputusan." in html


def test_a_refused_walk_in_comes_back_with_known_as_and_the_nik_warnings(
    client_for: Any, gate: Gate, guard_okut: User, operator_okut: User
) -> None:
    open_all_day(gate.site)
    visit_for(gate, operator_okut, start=timezone.now(), now=timezone.now())
    client = english(client_for, guard_okut)
    before = written()
    # Refused for another field (no planned end): the box of whom the NIK belongs to stays.
    response = client.post(WALK_IN, walk_in_form(gate, operator_okut, planned_end=""))
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="known-name">Andi Sopir<' in html
    assert 'data-code="found"' in html
    assert written() == before
    # A NIK whose birth date lies after today is accepted with a warning, on the fragment and
    # again on a refused page.
    today = timezone.localdate()
    later = today + dt.timedelta(days=1)
    if later.year == today.year:  # on 31 December, tomorrow is next year's: nothing to warn of
        nik = f"160801{later:%d%m%y}0009"
        fragment = client.post(LOOKUP, {"site": str(gate.site.pk), "nik": nik}).content.decode()
        assert 'data-warning="nik_birthdate_future"' in fragment
        refused = client.post(WALK_IN, walk_in_form(gate, operator_okut, nik=nik, planned_end=""))
        assert 'data-warning="nik_birthdate_future"' in refused.content.decode()

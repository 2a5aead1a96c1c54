"""The commander's first screen: open incidents and active alarms themselves, newest first,
and what came in since yesterday evening — all of it scoped to the commander's kabupaten."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from django.utils.formats import number_format

from siaga.access.choices import Purpose, VisitState
from siaga.access.models import Person, Visit, Visitor
from siaga.accounts.models import User
from siaga.alarms import services as alarm_services
from siaga.alarms.models import Alarm
from siaga.incidents import services as incident_services
from siaga.incidents.choices import State
from siaga.incidents.models import Incident
from siaga.logistics.choices import DiscrepancyKind
from siaga.logistics.models import Discrepancy
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from siaga.web.dashboard import yesterday_evening
from tests.conftest import World

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")


def test_yesterday_evening_is_18_00_local_the_day_before() -> None:
    with timezone.override(WIB):
        # 06:30 WIB on 7 March is 23:30 UTC on 6 March: "yesterday" is the 6th, in WIB.
        morning = dt.datetime(2026, 3, 6, 23, 30, tzinfo=dt.UTC)
        assert yesterday_evening(morning) == dt.datetime(2026, 3, 6, 18, 0, tzinfo=WIB)
        late = dt.datetime(2026, 3, 7, 22, 0, tzinfo=WIB)
        assert yesterday_evening(late) == dt.datetime(2026, 3, 6, 18, 0, tzinfo=WIB)


def _report(user: User, site: Site, at: dt.datetime, description: str) -> Incident:
    return incident_services.report_incident(
        actor=user, category="banjir", severity=2, site_id=site.pk, description=description, now=at
    ).incident


def _alarm(site: Site, key: str, at: dt.datetime) -> Alarm:
    return alarm_services.raise_alarm(
        source="hazards",
        key=key,
        kind="humidity",
        site=site,
        severity="minor",
        message=f"Kelembapan {key}",
        now=at,
    )


def _denied_visit(site: Site, host: User, at: dt.datetime) -> Visit:
    person = Person.objects.create(nik_hash=uuid.uuid4().hex)
    visitor = Visitor.objects.create(person=person, region=site.region_id[:5], name="Tamu")
    return Visit.objects.create(
        visitor=visitor,
        site=site,
        purpose=Purpose.DELIVERY,
        host=host,
        registered_by=host,
        planned_start=at,
        planned_end=at + dt.timedelta(hours=1),
        state=VisitState.DENIED,
        decided_at=at,
        decided_by=host,
    )


def _discrepancy(site: Site, at: dt.datetime) -> Discrepancy:
    return Discrepancy.objects.create(kind=DiscrepancyKind.SHORTFALL, site=site, raised_at=at)


@pytest.fixture
def night(
    world: World, guard_okut: User, operator_okut: User, commissioner_okut: User, kpu_oku: User
) -> dict[str, Any]:
    """Yesterday evening falls between 6 and 30 hours ago, whatever the hour: an hour ago is
    after it, two days ago before it."""
    now = timezone.now()
    recent, old = now - dt.timedelta(hours=1), now - dt.timedelta(days=2)
    okut, oku = world.warehouse_okut, world.warehouse_oku
    old_incident = _report(guard_okut, okut, old, "Lama, masih terbuka")
    new_incident = _report(guard_okut, okut, recent, "Baru, sudah ditanggapi")
    incident_services.acknowledge_incident(actor=commissioner_okut, incident_id=new_incident.pk)
    closed = _report(guard_okut, okut, recent, "Sudah selesai")
    incident_services.resolve_incident(
        actor=commissioner_okut, incident_id=closed.pk, resolution="Dipindahkan"
    )
    _report(kpu_oku, oku, recent, "Insiden OKU")
    old_alarm = _alarm(okut, "RH-A-01", old)
    new_alarm = _alarm(okut, "RH-A-02", recent)
    alarm_services.acknowledge_alarm(actor=commissioner_okut, alarm_id=new_alarm.pk)
    cleared = _alarm(okut, "RH-A-03", recent)
    alarm_services.clear_alarm(source="hazards", key="RH-A-03")
    _alarm(oku, "RH-OKU-01", recent)
    _denied_visit(okut, operator_okut, recent)
    _denied_visit(okut, operator_okut, old)
    _denied_visit(oku, kpu_oku, recent)
    _discrepancy(okut, recent)
    _discrepancy(oku, recent)
    return {
        "open_incidents": [new_incident, old_incident],
        "active_alarms": [new_alarm, old_alarm],
        "cleared": cleared,
        "closed": closed,
    }


def _card(html: str, element_id: str) -> str:
    found = re.search(
        rf'id="{element_id}">\s*<div class="card-body"><div class="display-6[^"]*">([^<]*)<', html
    )
    assert found, element_id
    return found.group(1)


def test_the_commander_sees_open_incidents_and_active_alarms_newest_first(
    client_for: Any, kapolres_okut: User, night: dict[str, Any]
) -> None:
    html = client_for(kapolres_okut).get("/").content.decode()
    incidents = re.findall(r'<li class="list-group-item" data-incident="([^"]+)">', html)
    assert incidents == [str(i.pk) for i in night["open_incidents"]]
    listed = html[html.index('id="home-incident-list"') : html.index('id="home-alarm-list"')]
    for incident in night["open_incidents"]:
        assert f'href="/insiden/{incident.pk}/"' in listed
    assert (
        f'data-state="{State.ACKNOWLEDGED}"' in listed
        and f'data-state="{State.REPORTED}"' in listed
    )
    alarms = re.findall(r'data-alarm="([^"]+)" data-status="([^"]+)"', html)
    newest, oldest = night["active_alarms"]
    assert alarms == [(str(newest.pk), "active_ack"), (str(oldest.pk), "active_unack")]
    assert str(night["cleared"].pk) not in html and str(night["closed"].pk) not in html
    assert "Insiden OKU" not in html and "RH-OKU-01" not in html
    assert _card(html, "home-open-incidents") == "2"
    assert _card(html, "home-active-alarms") == "2"


def test_since_yesterday_evening_counts_only_the_commanders_kabupaten(
    client_for: Any, kapolres_okut: User, night: dict[str, Any]
) -> None:
    html = client_for(kapolres_okut).get("/").content.decode()
    assert _card(html, "night-incidents") == "2"  # the acknowledged and the resolved one
    assert _card(html, "night-alarms") == "2"  # the acknowledged and the cleared one
    assert _card(html, "night-gate-refusals") == "1"
    assert _card(html, "night-discrepancies") == "1"
    for card, url in [
        ("night-incidents", "/insiden/"),
        ("night-alarms", "/alarm/"),
        ("night-discrepancies", "/logistik/custody/discrepancies/"),
    ]:
        assert re.search(rf'href="{url}[^"]*" id="{card}"', html), card


def test_the_open_card_and_the_menu_badge_say_what_each_counts(
    client_for: Any, commissioner_okut: User, night: dict[str, Any]
) -> None:
    response = client_for(commissioner_okut).get("/")
    html = response.content.decode()
    # The commissioner was told of both open incidents and acknowledged one: one waits for him.
    assert _card(html, "home-open-incidents") == "2"
    assert _card(html, "home-waiting-for-me") == "1"
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        waiting = translation.gettext("Waiting for your acknowledgement")
    badge = f'nav-count" title="{waiting}">1<span class="visually-hidden"> {waiting}</span>'
    assert badge in html


def test_the_voters_card_sums_the_tps_in_scope_with_a_thousands_separator(
    client_for: Any, kapolres_okut: User, world: World
) -> None:
    def tps(**fields: Any) -> None:
        owner = (
            world.warehouse_oku if fields["region_id"].startswith("16.01") else world.warehouse_okut
        )
        Site.objects.create(kind=SiteKind.TPS, owner_unit_id=owner.owner_unit_id, **fields)

    for number, region in ((1, "16.08.01.1008"), (2, "16.08.01.1007")):
        tps(
            code=f"TPS-{number:03d}-{region}",
            name=f"TPS {number:03d}",
            region_id=region,
            voters=900,
        )
    tps(
        code="TPS-001-16.01.14",
        name="TPS OKU",
        region_id="16.01.14",
        voters=700,
    )
    response = client_for(kapolres_okut).get("/")
    html = response.content.decode()
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        label = translation.ngettext(
            "Voters (DPT) in all %(shown)s TPS of your scope together",
            "Voters (DPT) in all %(shown)s TPS of your scope together",
            2,
        ) % {"shown": "2"}
        total = number_format(1800, force_grouping=True)
    # Bahasa Indonesia, the default, groups with a dot: 1.800 (OKU's 700 not among them).
    assert (response.wsgi_request.LANGUAGE_CODE, total) == ("id", "1.800")
    assert re.search(
        rf'<div class="display-6">{re.escape(total)}</div>\s*<div[^>]*>{re.escape(label)}<', html
    )


def test_each_night_card_opens_a_list_of_exactly_what_it_counts(
    client_for: Any, kapolres_okut: User, night: dict[str, Any]
) -> None:
    client = client_for(kapolres_okut)
    html = client.get("/").content.decode()

    def followed(card: str) -> str:
        found = re.search(rf'href="([^"]+)" id="{card}"', html)
        assert found, card
        response = client.get(found.group(1).replace("&amp;", "&").split("#")[0])
        assert response.status_code == 200
        page: str = response.content.decode()
        assert 'id="since-filter"' in page or 'id="refused"' in page
        return page

    incidents = re.findall(r'<tr[^>]* data-incident="([^"]+)"', followed("night-incidents"))
    since = yesterday_evening(timezone.now())
    assert sorted(incidents) == sorted(
        str(pk)
        for pk in Incident.objects.filter(
            reported_at__gte=since, site__region__code__startswith="16.08"
        ).values_list("pk", flat=True)
    )
    assert len(incidents) == 2
    alarms = re.findall(r'<tr data-alarm="([^"]+)"', followed("night-alarms"))
    assert len(alarms) == 2 and str(night["active_alarms"][1].pk) not in alarms
    refused = re.findall(
        r'<li class="list-group-item" data-visit="([^"]+)"', followed("night-gate-refusals")
    )
    assert len(refused) == 1
    discrepancies = followed("night-discrepancies")
    assert len(re.findall(r'data-discrepancy="([^"]+)"', discrepancies)) == 1


def test_bast_on_its_way_shows_on_the_receivers_dashboard(
    client_for: Any, world: World, operator_okut: User
) -> None:
    from siaga.logistics.models import Election, Handover
    from siaga.logistics.services import seed_catalogue

    seed_catalogue()
    store = Site.objects.create(
        code="PPK-16.08.01",
        name="Gudang PPK Martapura",
        kind=SiteKind.PPK,
        region_id="16.08.01",
        owner_unit=world.units["kpu:16.08"],
    )
    expected = timezone.now() + dt.timedelta(hours=3)
    # A return leg dispatched into the warehouse: its receiver is the warehouse's operator.
    handover = Handover.objects.create(
        number="BAST-TEST-1",
        election=Election.objects.get(),
        from_site=store,
        to_site=world.warehouse_okut,
        state="dispatched",
        giver=operator_okut,
        dispatched_at=timezone.now(),
        expected_at=expected,
    )
    html = client_for(operator_okut).get("/").content.decode()
    item = html.split(f'data-handover="{handover.pk}"')[1].split("</li>")[0]
    assert "BAST-TEST-1" in item and "Gudang PPK Martapura" in item
    assert f'href="/logistik/custody/handovers/{handover.pk}/"' in item

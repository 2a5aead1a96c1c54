"""Reconciliation per TPS and rolled up, its flags, its queries, its pages and its export."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from siaga.accounts.models import User
from siaga.core.errors import NotFound
from siaga.logistics.catalogue import Item, Rule
from siaga.logistics.choices import (
    DiscrepancyKind,
    DiscrepancyState,
    HandoverState,
    ItemCategory,
    Leg,
    NeedBasis,
    PackageState,
)
from siaga.logistics.models import Election, Package
from siaga.logistics.selectors import Figures, Reconciliation, Row, reconcile
from siaga.logistics.services import seed_catalogue
from siaga.sites.choices import SiteKind
from siaga.sites.models import Site
from tests.logistics.conftest import Logi, wib

pytestmark = pytest.mark.django_db

# After every due date (PPK 9, PPS 11, TPS 13 February 2024).
AFTER = dt.date(2024, 2, 15)

MINI = (
    Item(
        "ss",
        "Surat suara",
        ItemCategory.BALLOT,
        unit="lembar",
        rules=(Rule(NeedBasis.PER_VOTER, 1, Decimal(2)), Rule(NeedBasis.PER_DISTRICT, 1000)),
    ),
    Item("kotak", "Kotak suara", ItemCategory.BOX, rules=(Rule(NeedBasis.PER_TPS, 5),)),
)


@dataclass
class Scene:
    election: Election
    ss: int
    kotak: int
    tps_a: Site
    tps_b: Site
    tps_c: Site
    tps_d: Site
    p1: Package


def build_scene(logi: Logi) -> Scene:
    """Four TPS of OKU Timur, each with a story.

    A (250 voters, desa 1008): packed exactly, on time everywhere; 3 ballots damaged.
    B (100 voters, desa 1008): 2 ballots short; reached the PPS a day late, never the TPS.
    C (200 voters, desa 1007): 6 ballots too many; never through a PPK or PPS, reached the TPS
      on voting day; an open wrong-destination discrepancy; returned after voting.
    D (50 voters, kecamatan 16.08.02): nothing packed at all.
    """
    election = seed_catalogue(code="uji-2024", name="Uji 2024", catalogue=MINI)
    ss = logi.item(election, "ss").pk
    kotak = logi.item(election, "kotak").pk
    warehouse = logi.world.warehouse_okut
    ppk = logi.site(SiteKind.PPK, "16.08.01")
    pps = logi.site(SiteKind.PPS, "16.08.01.1008")
    tps_a = logi.tps("16.08.01.1008", 250, name="TPS 001 Pasar Martapura")
    tps_b = logi.tps("16.08.01.1008", 100, name="TPS 002 Pasar Martapura")
    tps_c = logi.tps("16.08.01.1007", 200, name="TPS 001 Dusun Martapura")
    tps_d = logi.tps("16.08.02.2001", 50, name="TPS 001 Suka Raja")
    p1 = logi.package(election, tps_a, {"ss": 255})
    p2 = logi.package(election, tps_a, {"kotak": 5})
    p3 = logi.package(election, tps_b, {"ss": 100, "kotak": 5})
    logi.package(election, tps_b, {"ss": 500}, state=PackageState.VOID)
    p5 = logi.package(election, tps_c, {"ss": 210, "kotak": 5})
    logi.handover(election, warehouse, ppk, [p1, p2, p3], dispatched_at=wib(7), received_at=wib(8))
    logi.handover(election, ppk, pps, [p1, p2], dispatched_at=wib(10, 8), received_at=wib(10))
    logi.handover(election, ppk, pps, [p3], dispatched_at=wib(12, 8), received_at=wib(12))
    logi.handover(election, pps, tps_a, [p1, p2], dispatched_at=wib(12, 8), received_at=wib(12))
    Package.objects.filter(pk__in=[p1.pk, p2.pk]).update(
        state=PackageState.RECEIVED, received_at_tps=wib(12)
    )
    logi.handover(election, warehouse, tps_c, [p5], dispatched_at=wib(13), received_at=wib(14, 8))
    Package.objects.filter(pk=p5.pk).update(received_at_tps=wib(14, 8))
    logi.handover(
        election,
        tps_c,
        warehouse,
        [p5],
        dispatched_at=wib(14, 20),
        received_at=wib(15),
        leg=Leg.RETURN,
    )
    item_ss = logi.item(election, "ss")
    logi.discrepancy(DiscrepancyKind.DAMAGED, p1, item=item_ss, quantity=3)
    logi.discrepancy(DiscrepancyKind.WRONG_DESTINATION, p5)
    # Resolved: it no longer flags A.
    logi.discrepancy(DiscrepancyKind.WRONG_DESTINATION, p1, state=DiscrepancyState.RESOLVED)
    return Scene(election, ss, kotak, tps_a, tps_b, tps_c, tps_d, p1)


@pytest.fixture
def scene(logi: Logi) -> Scene:
    return build_scene(logi)


def _tps(recon: Reconciliation, site: Site) -> Row:
    return next(row for row in recon.tps if row.site_id == site.pk)


def _f(*values: int) -> Figures:
    return Figures(*values)


def test_figures_per_tps_and_item(scene: Scene, operator_okut: User) -> None:
    recon = reconcile(user=operator_okut, election=scene.election, region="16.08", today=AFTER)
    a, b = _tps(recon, scene.tps_a), _tps(recon, scene.tps_b)
    c, d = _tps(recon, scene.tps_c), _tps(recon, scene.tps_d)
    ss, kotak = scene.ss, scene.kotak
    # need, packed, dispatched, received, damaged, returned
    assert a.lines == {ss: _f(255, 255, 255, 255, 3, 0), kotak: _f(5, 5, 5, 5, 0, 0)}
    assert b.lines == {ss: _f(102, 100, 100, 0, 0, 0), kotak: _f(5, 5, 5, 0, 0, 0)}
    assert c.lines == {ss: _f(204, 210, 210, 210, 0, 210), kotak: _f(5, 5, 5, 5, 0, 5)}
    assert d.lines == {ss: _f(51, 0, 0, 0, 0, 0), kotak: _f(5, 0, 0, 0, 0, 0)}
    assert a.total == _f(260, 260, 260, 260, 3, 0)
    assert (a.packages, a.packages_dispatched, a.packages_received) == (2, 2, 2)
    assert (b.packages, b.packages_dispatched, b.packages_received) == (1, 1, 0)
    assert (c.packages, c.packages_returned, d.packages) == (1, 1, 0)
    assert (a.code, a.name, a.region) == (
        scene.tps_a.code,
        "TPS 001 Pasar Martapura",
        "16.08.01.1008",
    )


def test_flags_per_tps(scene: Scene, operator_okut: User) -> None:
    recon = reconcile(user=operator_okut, election=scene.election, region="16.08", today=AFTER)
    flags = {row.name: row.flags for row in recon.tps}
    assert flags == {
        "TPS 001 Pasar Martapura": [],
        "TPS 002 Pasar Martapura": ["shortage", "late"],
        "TPS 001 Dusun Martapura": ["excess", "wrong_destination", "late"],
        "TPS 001 Suka Raja": ["shortage"],
    }


def test_before_the_tps_due_date_a_package_on_its_way_is_not_late(
    scene: Scene, operator_okut: User
) -> None:
    recon = reconcile(
        user=operator_okut, election=scene.election, region="16.08", today=dt.date(2024, 2, 10)
    )
    assert not _tps(recon, scene.tps_b).late
    # C's package arrived after its due date: late whatever day it is now.
    assert _tps(recon, scene.tps_c).late
    kecamatan = {row.code: row.late for row in recon.rollup(3)}
    desa = {row.code: row.late for row in recon.rollup(4)}
    # The PPK's due date (9 Feb) has passed and C's package never went through a PPK; the
    # PPS's (11 Feb) has not.
    assert kecamatan == {"16.08.01": True, "16.08.02": False}
    assert desa == {"16.08.01.1007": False, "16.08.01.1008": False, "16.08.02.2001": False}


def test_rollups_per_desa_kecamatan_and_kabupaten(scene: Scene, operator_okut: User) -> None:
    recon = reconcile(user=operator_okut, election=scene.election, region="16.08", today=AFTER)
    desa = {row.code: row for row in recon.rollup(4)}
    assert sorted(desa) == ["16.08.01.1007", "16.08.01.1008", "16.08.02.2001"]
    martapura = desa["16.08.01.1008"]
    assert martapura.name == "Pasar Martapura"
    assert martapura.lines[scene.ss] == _f(357, 355, 355, 255, 3, 0)
    assert (martapura.tps, martapura.voters, martapura.packages) == (2, 350, 3)
    # B's package reached the PPS on the 12th, after its due date (the 11th).
    assert (martapura.shortage, martapura.excess, martapura.late) == (1, 0, True)
    assert (martapura.missed_pps, martapura.late_tps) == (1, 1)
    # C's never went through a PPS at all.
    assert desa["16.08.01.1007"].late is True
    assert desa["16.08.01.1007"].wrong_destination == 1
    assert desa["16.08.02.2001"].late is False
    kecamatan = {row.code: row for row in recon.children()}
    assert sorted(kecamatan) == ["16.08.01", "16.08.02"]
    assert kecamatan["16.08.01"].name == "Martapura"
    assert kecamatan["16.08.01"].total == _f(576, 580, 580, 475, 3, 215)
    assert kecamatan["16.08.01"].missed_ppk == 1
    assert (kecamatan["16.08.01"].late, kecamatan["16.08.02"].late) == (True, False)
    assert kecamatan["16.08.02"].flags == ["shortage"]
    total = recon.total
    assert (total.code, total.level, total.tps) == ("16.08", 2, 4)
    assert total.total == _f(632, 580, 580, 475, 3, 215)
    assert (total.shortage, total.excess, total.wrong_destination, total.late_tps) == (2, 1, 1, 2)
    assert total.late is True
    assert [row.site_id for row in recon.rollup(5)] == [row.site_id for row in recon.tps]


def test_a_desa_lists_its_tps(scene: Scene, bawaslu_okut: User) -> None:
    recon = reconcile(
        user=bawaslu_okut, election=scene.election, region="16.08.01.1008", today=AFTER
    )
    assert [row.site_id for row in recon.children()] == [scene.tps_a.pk, scene.tps_b.pk]
    assert recon.total.total == _f(367, 365, 365, 260, 3, 0)


def test_another_kabupaten_cannot_reconcile_here(scene: Scene, kpu_oku: User) -> None:
    with pytest.raises(NotFound):
        reconcile(user=kpu_oku, election=scene.election, region="16.08")
    with pytest.raises(NotFound):
        reconcile(user=kpu_oku, election=scene.election, region="16.08.01.1008")
    with pytest.raises(NotFound):
        reconcile(user=kpu_oku, election=scene.election, region="16")


def test_the_number_of_queries_does_not_grow_with_the_tps(
    scene: Scene, logi: Logi, django_assert_num_queries: Any
) -> None:
    def count() -> int:
        user = User.objects.get(username="kpu.okut")  # a fresh user: its scope not cached
        with CaptureQueriesContext(connection) as queries:
            recon = reconcile(user=user, election=scene.election, region="16.08", today=AFTER)
            recon.children()
            recon.rollup(4)
            _ = recon.total
        return len(queries)

    before = count()
    for n in range(6):
        tps = logi.tps("16.08.02.2002", 100 + n)
        package = logi.package(scene.election, tps, {"ss": 90, "kotak": 5})
        logi.handover(
            scene.election,
            logi.world.warehouse_okut,
            tps,
            [package],
            dispatched_at=wib(10),
            received_at=wib(11),
        )
        logi.discrepancy(DiscrepancyKind.DAMAGED, package, quantity=1)
    user = User.objects.get(username="kpu.okut")
    with django_assert_num_queries(before):
        recon = reconcile(user=user, election=scene.election, region="16.08", today=AFTER)
        recon.children()
        recon.rollup(4)
        _ = recon.total
    assert before == 10
    assert recon.total.tps == 10


def test_a_dispatched_return_is_not_yet_returned(
    scene: Scene, logi: Logi, operator_okut: User
) -> None:
    logi.handover(
        scene.election,
        scene.tps_a,
        logi.world.warehouse_okut,
        [scene.p1],
        dispatched_at=wib(14, 20),
        leg=Leg.RETURN,
        state=HandoverState.DISPATCHED,
    )
    recon = reconcile(user=operator_okut, election=scene.election, region="16.08.01.1008")
    assert _tps(recon, scene.tps_a).lines[scene.ss].returned == 0


# --- pages ----------------------------------------------------------------------------------


def _url(**query: str) -> str:
    from django.urls import reverse
    from django.utils.http import urlencode

    return f"{reverse('logistics:reconciliation')}?{urlencode(query)}"


def test_the_reconciliation_page_lists_the_kecamatan_with_their_flags(
    scene: Scene, client_for: Any, commissioner_okut: User
) -> None:
    response = client_for(commissioner_okut).get(_url(election="uji-2024", region="16.08"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-code="16.08.01"' in body
    assert 'data-code="16.08.02"' in body
    assert "?election=uji-2024&amp;region=16.08.01" in body
    row = body.split('data-code="16.08.02"')[1].split("</tr>")[0]
    assert 'data-flag="shortage"' in row
    assert 'data-flag="late"' not in row


def test_the_tps_page_shows_its_lines_per_item(
    scene: Scene, client_for: Any, operator_okut: User
) -> None:
    url = _url(election="uji-2024", region="16.08.01.1008", tps=str(scene.tps_b.pk))
    response = client_for(operator_okut).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    line = body.split('data-item="ss"')[1].split("</tr>")[0]
    assert [cell.split("<")[0] for cell in line.split('class="text-end">')[1:]] == [
        "102",
        "100",
        "100",
        "0",
        "0",
        "0",
    ]
    assert 'data-flag="shortage"' in body


def test_a_tps_of_another_desa_is_not_found_there(
    scene: Scene, client_for: Any, operator_okut: User
) -> None:
    url = _url(election="uji-2024", region="16.08.01.1008", tps=str(scene.tps_c.pk))
    assert client_for(operator_okut).get(url).status_code == 404


def test_another_kabupaten_gets_404_and_anonymous_the_login(
    scene: Scene, client_for: Any, kpu_oku: User
) -> None:
    client = client_for(kpu_oku)
    assert client.get(_url(election="uji-2024", region="16.08")).status_code == 404
    assert client.get(_url(election="uji-2024", region="16.08", format="xlsx")).status_code == 404
    assert client.get(_url(election="uji-2024", region="16.08.01")).status_code == 404
    assert client.get(_url(election="nope", region="16.01")).status_code == 404
    assert client.get(_url(election="uji-2024", region="16.x")).status_code == 404
    anonymous = client_for(None).get(_url(election="uji-2024", region="16.08"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")


def test_without_a_region_the_reader_chooses_from_their_scope(
    scene: Scene, client_for: Any, kpu_oku: User
) -> None:
    response = client_for(kpu_oku).get(_url(election="uji-2024"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "region=16.01" in body
    assert "region=16.08" not in body


def test_the_export_holds_the_current_level(
    scene: Scene, client_for: Any, operator_okut: User
) -> None:
    response = client_for(operator_okut).get(
        _url(election="uji-2024", region="16.08.01", format="xlsx")
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    totals, per_item = (list(sheet.values) for sheet in book.worksheets)
    assert len(totals) == 3
    assert totals[1:] == [
        ("16.08.01.1007", "Dusun Martapura", 1, 200, 1, 209, 215, 215, 215, 0, 215, 0, 1, 1, 1),
        ("16.08.01.1008", "Pasar Martapura", 2, 350, 3, 367, 365, 365, 260, 3, 0, 1, 0, 0, 1),
    ]
    assert per_item[1:] == [
        ("16.08.01.1007", "Dusun Martapura", "Surat suara", 204, 210, 210, 210, 0, 210),
        ("16.08.01.1007", "Dusun Martapura", "Kotak suara", 5, 5, 5, 5, 0, 5),
        ("16.08.01.1008", "Pasar Martapura", "Surat suara", 357, 355, 355, 255, 3, 0),
        ("16.08.01.1008", "Pasar Martapura", "Kotak suara", 10, 10, 10, 5, 0, 0),
    ]
    # The counts carry a thousands separator; the codes and names stay text.
    first = next(book.worksheets[0].iter_rows(min_row=2, max_row=2))
    assert [cell.number_format for cell in first] == ["General"] * 2 + ["#,##0"] * 13


def test_the_needs_page_rolls_up_per_item(
    scene: Scene, client_for: Any, operator_okut: User, kpu_oku: User
) -> None:
    from django.urls import reverse

    url = f"{reverse('logistics:needs')}?election=uji-2024&region=16.08"
    response = client_for(operator_okut).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    total = body.split('id="needs-total"')[1].split("</table>")[0]
    # 255 + 102 + 204 + 51 per-TPS ballots and OKU Timur's 1,000; 4 TPS, 5 boxes each.
    ballots = total.split('data-item="ss">')[1].split("</tr>")[0]
    # Counts are grouped the Indonesian way (the page's default language).
    assert ballots.endswith('lembar</td><td class="text-end">1.612</td>')
    assert '<td class="text-end">20<' in total.split('data-item="kotak"')[1]
    martapura = body.split('data-code="16.08.01"')[1].split("</tr>")[0]
    assert ">561<" in martapura
    district = body.split('data-district="16.08"')[1].split("</tr>")[0]
    assert '<td class="text-end">1.000</td><td class="text-end">—</td>' in district
    assert client_for(kpu_oku).get(url).status_code == 404


def test_the_needs_of_a_desa_are_listed_per_tps(
    scene: Scene, client_for: Any, operator_okut: User
) -> None:
    from django.urls import reverse

    url = f"{reverse('logistics:needs')}?election=uji-2024&region=16.08.01.1008"
    response = client_for(operator_okut).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    row_a = body.split(f'data-code="{scene.tps_a.code}"')[1].split("</tr>")[0]
    cells = [cell.split("<")[0] for cell in row_a.split('class="text-end">')[1:]]
    assert cells == ["1", "250", "255", "5"]
    assert f'data-code="{scene.tps_b.code}"' in body
    assert f'data-code="{scene.tps_c.code}"' not in body
    assert "data-district" not in body

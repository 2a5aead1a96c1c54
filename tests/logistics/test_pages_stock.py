"""Where everything is, on the web: each warehouse, PPK and PPS with its loose stock, the
packages lying there and those on their way; a site's own page with its items, its packages
(found by code) and its open BASTs — for whoever sees the site, and for nobody else."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.logistics import services
from siaga.logistics.models import Handover
from tests.logistics.chain import ELECTION, H5, Chain, chain_fixture, pack

__all__ = ["chain_fixture"]  # the fixture, imported to be used here

pytestmark = pytest.mark.django_db


def url(site: Any = None, **query: str) -> str:
    base = reverse("logistics:stock")
    params = ({"site": str(site.pk)} if site is not None else {}) | query
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.fixture(name="moving")
def moving_fixture(chain: Chain, operator_okut: User) -> Chain:
    """Three packages at the warehouse; one of them then sent to PPK Martapura."""
    pack(chain, operator_okut, chain.tps1, ["SL-0001"], code="PKG-S1")
    pack(chain, operator_okut, chain.tps2, ["SL-0002"], code="PKG-S2")
    pack(chain, operator_okut, chain.tps_far, ["SL-0003"], code="PKG-S3")
    services.dispatch_handover(
        actor=operator_okut,
        id=uuid.uuid4(),
        from_site_id=chain.warehouse.pk,
        to_site_id=chain.ppk.pk,
        election=ELECTION,
        packages=["PKG-S1"],
        witnesses=[services.Witness("Bripka Andi", "polri")],
    )
    return chain


def test_the_index_counts_stock_and_packages_per_site(
    moving: Chain, bawaslu_okut: User, english: Any
) -> None:
    page = english(bawaslu_okut).get(url())
    assert page.status_code == 200
    body = page.content.decode()
    # The delivery: 5 ballot kinds x 2,000, 50 boxes, 20 ink; three packages took 3 x 255
    # PPWP ballots and 3 x 2 ink.
    good = 5 * 2000 + 50 + 20 - 3 * 255 - 3 * 2
    assert f'data-site="{moving.warehouse.pk}" data-figures="{good} 0 2 0"' in body
    assert f'data-site="{moving.ppk.pk}" data-figures="0 0 0 1"' in body
    assert f'data-site="{moving.pps.pk}" data-figures="0 0 0 0"' in body
    assert f'data-site="{moving.tps1.pk}"' not in body  # TPS are not stores
    order = [body.index(f'data-site="{s.pk}"') for s in (moving.warehouse, moving.ppk, moving.pps)]
    assert order == sorted(order)  # upstream first: the warehouse, then PPK, then PPS


def test_a_package_scanned_in_lies_there_and_is_no_longer_on_the_way(
    moving: Chain, bawaslu_okut: User, english: Any
) -> None:
    handover = Handover.objects.get(to_site=moving.ppk)
    outcomes = services.ingest_scans(
        actor=moving.ppk_martapura,
        scans=[services.ScanIn(uuid.uuid4(), "receive", "PKG-S1", handover.pk, H5)],
    )
    assert [o.status for o in outcomes] == [201]
    body = english(bawaslu_okut).get(url()).content.decode()
    assert f'data-site="{moving.ppk.pk}" data-figures="0 0 1 0"' in body


def test_a_site_page_shows_its_items_packages_and_what_is_coming(
    moving: Chain, operator_okut: User, english: Any
) -> None:
    client = english(operator_okut)
    warehouse = client.get(url(moving.warehouse)).content.decode()
    assert 'data-item="ss-ppwp" data-figures="1235 0"' in warehouse
    assert 'data-item="tinta" data-figures="14 0"' in warehouse
    assert 'data-package="PKG-S2"' in warehouse
    assert 'data-package="PKG-S3"' in warehouse
    assert 'data-package="PKG-S1"' not in warehouse  # on the road
    found = client.get(url(moving.warehouse, q="pkg-s3")).content.decode()
    assert 'data-package="PKG-S3"' in found
    assert 'data-package="PKG-S2"' not in found
    ppk = client.get(url(moving.ppk)).content.decode()
    assert ppk.count("data-handover=") == 1
    assert "1 package" in ppk
    assert "No packages here." in ppk


def test_another_kabupaten_sees_none_of_it(moving: Chain, kpu_oku: User, english: Any) -> None:
    client = english(kpu_oku)
    index = client.get(url())
    assert index.status_code == 200
    assert str(moving.warehouse.pk) not in index.content.decode()
    assert client.get(url(moving.warehouse)).status_code == 404


@pytest.mark.parametrize("site", ["nope", "0193a5b2-7c1e-7d4f-9a2b-3c4d5e6f7a8b"])
def test_an_unknown_site_is_404(chain: Chain, operator_okut: User, english: Any, site: str) -> None:
    page = english(operator_okut).get(reverse("logistics:stock") + f"?site={site}")
    assert page.status_code == 404


def test_a_tps_has_no_stock_page(chain: Chain, operator_okut: User, english: Any) -> None:
    assert english(operator_okut).get(url(chain.tps1)).status_code == 404


def test_anonymous_is_sent_to_sign_in(chain: Chain, client_for: Any) -> None:
    page = client_for(None).get(url(chain.warehouse))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))

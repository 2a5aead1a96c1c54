"""The demo's logistics: OKU Timur mid-distribution with one broken seal, one shortfall and one
late PPS, consistent with its ledger, and built once however often the demo starts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.demo.logistics import LATE_PPS, build_logistics
from siaga.demo.world import build_world
from siaga.ledger.models import Entry
from siaga.logistics import replay
from siaga.logistics.models import Discrepancy, Election, Handover, Package, Seal, Stock
from siaga.logistics.selectors import reconcile
from siaga.sites.models import Site, Zone

WIB = ZoneInfo("Asia/Jakarta")
NOW = dt.datetime(2029, 2, 11, 9, 0, tzinfo=WIB)


@pytest.mark.django_db
def test_the_demo_distribution_is_mid_way_with_its_three_troubles() -> None:
    Zone.objects.all().delete()
    Site.objects.all().delete()
    build_world("siaga-demo-test")
    day = build_logistics(NOW)
    assert day.created and day.voting_day == dt.date(2029, 2, 14)
    tps = Site.objects.filter(kind="tps", region__parent_id__in=("16.08.01", "16.08.04"))
    assert day.tps == tps.count() > 0
    assert day.packages == 3 * day.tps
    # One seal that was not the BAST's, at PPK Martapura: the package opened and resealed.
    mismatch = Discrepancy.objects.get(kind="seal_mismatch")
    assert (mismatch.state, mismatch.site.code) == ("open", "PPK-16.08.01")
    assert mismatch.alarm is not None and Alarm.objects.get(pk=mismatch.alarm.pk).active
    assert mismatch.package is not None
    assert set(Seal.objects.filter(package=mismatch.package).values_list("state", flat=True)) == {
        "broken",
        "verified",
    }
    # The DPD ballots came 40 short.
    short = Discrepancy.objects.get(kind="shortfall")
    assert (short.state, short.quantity, short.item and short.item.code) == ("open", 40, "ss-dpd")
    # Every BAST signed but PPS Sukaraja's.
    pending = Handover.objects.filter(state="dispatched")
    assert [h.to_site.region_id for h in pending] == [LATE_PPS]
    in_transit = Package.objects.filter(state="in_transit")
    assert in_transit.count() == 3 * tps.filter(region_id=LATE_PPS).count() > 0
    assert not Package.objects.filter(state="packed").exists()
    # Stock left at the warehouse never goes negative and the ledger explains all of it.
    assert not Stock.objects.filter(quantity__lt=0).exists()
    _state, differences = replay.rebuild(check=True)
    assert differences == []
    # Reconciliation as the Kapolres sees it the morning after: PPK Martapura complete, every
    # TPS of both kecamatan packed to its need, PPS Sukaraja late and no other.
    kapolres = User.objects.get(username="kapolres.okut")
    election = Election.objects.get(code="pemilu-2029")
    recon = reconcile(
        user=kapolres,
        election=election,
        region="16.08.04",
        today=day.voting_day - dt.timedelta(days=3),
    )
    late = [row.code for row in recon.children() if row.late]
    assert late == [LATE_PPS]
    assert recon.total.shortage == recon.total.excess == 0
    martapura = reconcile(
        user=kapolres,
        election=election,
        region="16.08",
        today=day.voting_day - dt.timedelta(days=3),
    )
    ppk = {row.code: row for row in martapura.children()}["16.08.01"]
    assert (ppk.late, ppk.shortage, ppk.packages_dispatched) == (False, 0, ppk.packages)
    entries = Entry.objects.count()
    again = build_logistics(NOW + dt.timedelta(days=1))
    assert not again.created and again.voting_day == day.voting_day
    assert Entry.objects.count() == entries

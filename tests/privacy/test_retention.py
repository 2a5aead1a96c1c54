"""Retention: what is past its time is erased (photos, phones, then the NIK itself, with the
ledger's personal parts redacted); the right-of-access export shows everything held."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from siaga.access import services
from siaga.access.models import Person, Presence, Visitor, VisitorChange
from siaga.access.services import ledgering
from siaga.accounts.models import SignInEvent, User
from siaga.core import jobs
from siaga.ledger import audit
from siaga.ledger.models import Entry, PersonalPart
from siaga.privacy import services as privacy
from siaga.privacy.models import LookupLog, PurgeRun
from tests.access.conftest import NIK_DRIVER, NIK_SUSPECT, Gate, png
from tests.conftest import World
from tests.privacy.conftest import register

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def driver(gate: Gate, operator_okut: User, guard_okut: User) -> Visitor:
    visit = register(
        operator_okut, gate.site, nik=NIK_DRIVER, name="Andi Sopir", phone="0812 3456 7890"
    )
    services.set_visitor_photo(
        actor=guard_okut, visitor_id=visit.visitor_id, photo=io.BytesIO(png())
    )
    visitor = visit.visitor
    visitor.refresh_from_db()
    return visitor


def test_nothing_within_retention_is_erased(driver: Visitor) -> None:
    run = privacy.purge(now=timezone.now() + 30 * DAY)
    assert (run.photos, run.phones, run.niks) == (0, 0, 0)
    driver.refresh_from_db()
    assert driver.photo_sha256 and driver.phone == "+6281234567890"


def test_photos_then_phones_then_the_nik_are_erased_past_their_retention(
    driver: Visitor, client_for: object, guard_okut: User
) -> None:
    later = driver.visits.get().planned_end
    # Past the photo's 90 days: the photo goes, the phone stays.
    run = privacy.purge(now=later + 91 * DAY)
    assert (run.photos, run.phones, run.niks) == (1, 0, 0)
    driver.refresh_from_db()
    assert (driver.photo, driver.photo_sha256, driver.phone) == (None, "", "+6281234567890")
    assert VisitorChange.objects.filter(visitor=driver, field="photo", via="retention").exists()
    # Past the phone's year: the phone goes, and the old numbers of its history too.
    VisitorChange.objects.create(
        visitor=driver, field="phone", old_value="+6281300001111", changed_at=timezone.now()
    )
    run = privacy.purge(now=later + 366 * DAY)
    assert (run.photos, run.phones, run.niks) == (0, 1, 0)
    driver.refresh_from_db()
    assert driver.phone == ""
    assert set(
        VisitorChange.objects.filter(visitor=driver, field="phone").values_list(
            "old_value", flat=True
        )
    ) == {""}
    # Past the NIK's two years: the NIK goes, the person can no longer be found by it, and
    # the ledger's personal parts of their entries are redacted.
    ref = ledgering.person_ref(NIK_DRIVER)
    parts = set(PersonalPart.objects.filter(person=ref).values_list("entry_id", flat=True))
    assert len(parts) >= 2
    run = privacy.purge(now=later + 731 * DAY)
    assert run.niks == 1
    person = Person.objects.get(pk=driver.person_id)
    assert (person.nik, person.erased_at is not None) == ("", True)
    assert not Person.objects.by_nik(NIK_DRIVER).exists()
    assert not Visitor.objects.by_nik(NIK_DRIVER).exists()
    # Every part is erased, and one ledger.redacted entry lists exactly those entries.
    assert run.redacted == len(parts)
    erased = PersonalPart.objects.filter(entry_id__in=parts)
    assert set(erased.values_list("data", "salt", "person")) == {("", None, "")}
    redaction = Entry.objects.get(kind="ledger.redacted")
    assert set(json.loads(redaction.payload)["seqs"]) == parts
    assert set(erased.values_list("redaction_seq", flat=True)) == {redaction.seq}
    result = audit.verify_database()
    assert set(result.redacted) == parts  # verify_database raises on anything tampered


def test_nobody_watchlisted_or_inside_is_purged(
    gate: Gate, kapolres_okut: User, guard_okut: User
) -> None:
    services.set_watchlist(
        actor=kapolres_okut, nik=NIK_SUSPECT, name="Budi DPO", listed=True, reason="DPO"
    )
    services.check_in(
        actor=guard_okut,
        id=uuid.uuid4(),
        badge=gate.guard_pass.qr_payload,
        now=gate.guard_pass.valid_from + DAY,
    )
    assert Presence.objects.exists()
    run = privacy.purge(now=timezone.now() + 2000 * DAY)
    assert Person.objects.by_nik(NIK_SUSPECT).exists()
    inside = Presence.objects.get().visitor
    assert Person.objects.get(pk=inside.person_id).nik != ""
    assert run.niks == Person.objects.filter(erased_at__isnull=False).count()


def test_the_periodic_purge_runs_once_per_interval(driver: Visitor) -> None:
    now = timezone.now()
    assert privacy.purge_if_due(now) is not None
    assert privacy.purge_if_due(now + dt.timedelta(minutes=5)) is None
    assert privacy.purge_if_due(now + dt.timedelta(hours=2)) is not None
    assert PurgeRun.objects.count() == 2
    # The worker runs it as the app declares it, in batch mode too.
    PurgeRun.objects.all().delete()
    (job,) = [job for job in jobs.periodic_jobs() if job.name == "privacy.purge"]
    assert (job.func, job.batch) == ("siaga.privacy.services.purge_if_due", True)
    job.call()
    assert PurgeRun.objects.count() == 1


def test_siaga_privacy_purge_command(driver: Visitor) -> None:
    out = io.StringIO()
    call_command("privacy", "purge", stdout=out)
    assert out.getvalue() == (
        "Erased 0 photos, 0 phone numbers, 0 NIKs; 0 ledger entries redacted; 0 sign-in "
        "records deleted.\n"
    )


def test_the_periodic_purge_deletes_sign_in_records_past_their_limit(
    settings: Any, guard_okut: User
) -> None:
    settings.SIGNIN_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    old = SignInEvent.objects.create(
        at=now - 31 * DAY, kind="failed", username="jaga.okut", ip_address="203.0.113.7"
    )
    kept = SignInEvent.objects.create(
        at=now - 29 * DAY, kind="signed_in", user=guard_okut, ip_address="203.0.113.7"
    )
    run = privacy.purge(now=now)
    assert run.signins == 1
    assert set(SignInEvent.objects.filter(pk__in=[old.pk, kept.pk])) == {kept}


def test_the_export_shows_every_region_s_record_and_is_recorded(
    driver: Visitor, world: World, kpu_oku: User, root: User
) -> None:
    register(kpu_oku, world.warehouse_oku, nik=NIK_DRIVER, name="Andi di OKU", phone="081399998888")
    register(
        User.objects.get(username="kpu.okut"),
        driver.visits.get().site,
        nik=NIK_DRIVER,
        name="Andi Sopir",
        phone="0813 1111 2222",
    )
    out = io.StringIO()
    call_command("privacy", "export", NIK_DRIVER, "--as", "root", stdout=out)
    held = json.loads(out.getvalue())
    assert held["known"] is True and held["nik"] == NIK_DRIVER
    by_region = {r["region"]: r for r in held["records"]}
    assert set(by_region) == {"16.01", "16.08"}
    assert by_region["16.01"]["name"] == "Andi di OKU"
    okut = by_region["16.08"]
    assert okut["phone"] == "+6281311112222"
    assert okut["photo"]["sha256"] == driver.photo_sha256
    assert [(h["field"], h["old_value"]) for h in okut["history"]] == [("phone", "+6281234567890")]
    assert len(okut["visits"]) == 2
    assert held["ledger_entries"]
    export_log = LookupLog.objects.get(channel="export")
    assert (export_log.user, export_log.answer) == (root, "found")
    assert [x["channel"] for x in held["lookups"]] == ["export"]
    # An unknown NIK says so, and is recorded too.
    out = io.StringIO()
    call_command("privacy", "export", "1608011111800006", stdout=out)
    assert json.loads(out.getvalue())["known"] is False
    assert LookupLog.objects.filter(channel="export").count() == 2

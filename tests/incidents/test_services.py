"""Incidents: reporting, the lifecycle on the timeline and the ledger, and escalation by
policy when nobody acknowledges."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from siaga.accounts.models import User
from siaga.core.errors import Conflict, InvalidInput, PermissionDenied
from siaga.incidents import services
from siaga.incidents.choices import EventKind, Source, State
from siaga.incidents.models import Incident, IncidentEvent, IncidentPhoto, Notified
from siaga.incidents.photos import PhotoTooLarge
from siaga.ledger.models import Entry
from siaga.notify.models import Message
from tests.conftest import World
from tests.incidents.conftest import Posts, jpeg

pytestmark = pytest.mark.django_db


def report(actor: User, world: World, **extra: object) -> Incident:
    fields: dict[str, object] = {
        "actor": actor,
        "category": "banjir",
        "severity": 2,
        "site_id": world.warehouse_okut.pk,
        "zone_id": world.hall_a_okut.pk,
        "description": "Atap bocor di Gudang A, air menetes ke palet surat suara DPD.",
    }
    fields.update(extra)
    return services.report_incident(**fields).incident  # type: ignore[arg-type]


def told(incident: Incident) -> dict[str, int]:
    return {n.user.username: n.tier for n in Notified.objects.filter(incident=incident)}


def test_a_report_is_stored_with_its_timeline_ledger_and_tier_one_told(
    world: World, guard_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    assert (incident.state, incident.source, incident.region_id) == (
        State.REPORTED,
        Source.PERSON,
        "16.08.01.1008",
    )
    assert incident.tier == 1
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == [EventKind.REPORTED, EventKind.ESCALATED]
    entries = Entry.objects.filter(subject_type="incidents.incident", subject_id=str(incident.pk))
    assert list(entries.order_by("seq").values_list("kind", flat=True)) == [
        "incident.reported",
        "incident.escalated",
    ]
    assert all(e.ledger_seq is not None for e in incident.events.all())
    # Tier 1 of "critical and high": the Kapolres, the logistics commissioner, Bawaslu.
    assert told(incident) == {"kapolres.okut": 1, "komisioner.okut": 1, "bawaslu.okut": 1}
    inapp = Message.objects.filter(channel="inapp", about_id=str(incident.pk))
    assert sorted(inapp.values_list("user__username", flat=True)) == [
        "bawaslu.okut",
        "kapolres.okut",
        "komisioner.okut",
    ]
    assert incident.next_escalation_at == incident.reported_at + timedelta(minutes=2)


def test_the_same_report_sent_twice_is_one_incident(
    world: World, guard_okut: User, posts: Posts
) -> None:
    client_id = uuid.uuid4()
    first = services.report_incident(
        actor=guard_okut,
        id=client_id,
        category="banjir",
        severity=2,
        site_id=world.warehouse_okut.pk,
    )
    entries = Entry.objects.count()
    messages = Message.objects.count()
    again = services.report_incident(
        actor=guard_okut,
        id=client_id,
        category="banjir",
        severity=2,
        site_id=world.warehouse_okut.pk,
    )
    assert (first.created, again.created) == (True, False)
    assert again.incident.pk == client_id
    assert Incident.objects.filter(pk=client_id).count() == 1
    assert (Entry.objects.count(), Message.objects.count()) == (entries, messages)
    with pytest.raises(Conflict) as caught:
        services.report_incident(
            actor=guard_okut,
            id=client_id,
            category="kebakaran",
            severity=1,
            site_id=world.warehouse_okut.pk,
        )
    assert caught.value.code == "id_reused"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"category": "gempa"}, "incident_category_unknown"),
        ({"severity": 0}, "incident_severity_unknown"),
        ({"severity": 5}, "incident_severity_unknown"),
        ({"latitude": 10, "longitude": None}, "coordinates_incomplete"),
        ({"zone_id": uuid.uuid4()}, "zone_unknown"),
        ({"site_id": uuid.uuid4(), "zone_id": None}, "site_unknown"),
        ({"occurred_at": timezone.now() + timedelta(hours=2)}, "incident_time_in_future"),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_written(
    world: World, guard_okut: User, fields: dict[str, object], code: str
) -> None:
    before = (Incident.objects.count(), Entry.objects.count(), Message.objects.count())
    with pytest.raises(InvalidInput) as caught:
        report(guard_okut, world, **fields)
    assert caught.value.code == code
    assert (Incident.objects.count(), Entry.objects.count(), Message.objects.count()) == before


def test_a_guard_cannot_report_for_another_kabupaten(world: World, guard_okut: User) -> None:
    with pytest.raises(InvalidInput) as caught:  # the site is not even visible
        report(guard_okut, world, site_id=world.warehouse_oku.pk, zone_id=None)
    assert caught.value.code == "site_unknown"
    with pytest.raises(PermissionDenied) as denied:
        report(guard_okut, world, site_id=None, zone_id=None, region_code="16.01")
    assert denied.value.code == "incident_out_of_scope"
    assert Incident.objects.count() == 0


def test_a_guard_with_one_post_needs_no_location(guard_okut: User, posts: Posts) -> None:
    incident = services.report_incident(actor=guard_okut, category="kamtibmas", severity=3).incident
    assert incident.region_id == "16.08"
    assert incident.site_id is None


def test_photo_is_re_encoded_without_metadata_and_its_gps_becomes_the_location(
    world: World, guard_okut: User, posts: Posts
) -> None:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "S", 2: (4.0, 19.0, 3.0), 3: "E", 4: (104.0, 21.0, 13.68)})
    exif[0x010F] = "PhoneMaker"  # make
    exif[0xA431] = "SERIAL-123"  # body serial number
    raw = jpeg(exif=exif.tobytes())
    assert b"SERIAL-123" in raw
    incident = report(guard_okut, world, photo=io.BytesIO(raw), photo_size=len(raw))
    photo = IncidentPhoto.objects.get(incident=incident)
    content = bytes(photo.content)
    assert b"SERIAL-123" not in content and b"PhoneMaker" not in content
    assert Image.open(io.BytesIO(content)).getexif() == {}
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 64, 48)
    assert str(incident.latitude) == "-4.317500"
    assert str(incident.longitude) == "104.353800"
    assert incident.events.filter(kind=EventKind.PHOTO).count() == 1


def test_a_photo_not_an_image_or_too_large_is_refused_but_the_report_is_kept(
    world: World, guard_okut: User, settings: object
) -> None:
    fields = {
        "actor": guard_okut,
        "category": "banjir",
        "severity": 2,
        "site_id": world.warehouse_okut.pk,
    }
    not_an_image = services.report_incident(
        **fields,  # type: ignore[arg-type]
        photo=io.BytesIO(b"%PDF-1.7 not a photo"),
        photo_size=20,
    )
    assert not_an_image.created
    assert isinstance(not_an_image.photo_refused, InvalidInput)
    assert not_an_image.photo_refused.code == "photo_invalid"
    settings.INCIDENT_PHOTO_MAX_BYTES = 2048  # type: ignore[attr-defined]
    big = jpeg(800, 600)
    too_large = services.report_incident(
        **fields,  # type: ignore[arg-type]
        photo=io.BytesIO(big),
        photo_size=len(big),
    )
    assert isinstance(too_large.photo_refused, PhotoTooLarge)
    assert (too_large.photo_refused.code, too_large.photo_refused.status) == (
        "photo_too_large",
        413,
    )
    assert Incident.objects.count() == 2 and IncidentPhoto.objects.count() == 0
    assert not IncidentEvent.objects.filter(kind=EventKind.PHOTO).exists()


def test_lifecycle_each_step_on_the_timeline_and_in_the_ledger(
    world: World, guard_okut: User, commissioner_okut: User, kapolres_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    services.acknowledge_incident(actor=commissioner_okut, incident_id=incident.pk)
    services.acknowledge_incident(actor=kapolres_okut, incident_id=incident.pk)  # no-op
    services.start_response(actor=commissioner_okut, incident_id=incident.pk)
    services.assign_responder(actor=kapolres_okut, incident_id=incident.pk, user_id=guard_okut.pk)
    services.comment_on_incident(
        actor=guard_okut, incident_id=incident.pk, text="Terpal dipasang, palet dipindah."
    )
    services.resolve_incident(
        actor=commissioner_okut, incident_id=incident.pk, resolution="2 karton DPD rusak."
    )
    services.close_incident(actor=commissioner_okut, incident_id=incident.pk)
    services.reopen_incident(
        actor=kapolres_okut, incident_id=incident.pk, reason="Atap bocor lagi."
    )
    incident.refresh_from_db()
    assert incident.state == State.ACKNOWLEDGED
    assert incident.acknowledged_by == commissioner_okut
    assert incident.assignee == guard_okut
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == [
        "reported",
        "escalated",
        "acknowledged",
        "responding",
        "assigned",
        "comment",
        "resolved",
        "closed",
        "reopened",
    ]
    ledgered = Entry.objects.filter(subject_id=str(incident.pk)).order_by("seq")
    assert [e.kind for e in ledgered] == [f"incident.{k}" for k in kinds]
    assert [e.seq for e in ledgered] == list(incident.events.values_list("ledger_seq", flat=True))
    assert incident.next_escalation_at is None


def test_wrong_transitions_conflict_and_change_nothing(
    world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    events = incident.events.count()
    with pytest.raises(Conflict) as caught:
        services.close_incident(actor=commissioner_okut, incident_id=incident.pk)
    assert caught.value.code == "incident_state_invalid"
    with pytest.raises(InvalidInput) as empty:
        services.resolve_incident(actor=commissioner_okut, incident_id=incident.pk, resolution=" ")
    assert empty.value.code == "resolution_required"
    incident.refresh_from_db()
    assert (incident.state, incident.events.count()) == (State.REPORTED, events)


def test_acknowledging_outside_ones_scope_or_role_is_refused(
    world: World, guard_okut: User, kpu_oku: User, bawaslu_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    before = (incident.events.count(), Entry.objects.count())
    with pytest.raises(Exception) as other_region:
        services.acknowledge_incident(actor=kpu_oku, incident_id=incident.pk)
    assert getattr(other_region.value, "code", "") == "incident_not_found"
    with pytest.raises(PermissionDenied) as bawaslu:
        services.acknowledge_incident(actor=bawaslu_okut, incident_id=incident.pk)
    assert bawaslu.value.code == "incident_out_of_scope"
    incident.refresh_from_db()
    assert incident.state == State.REPORTED and incident.acknowledged_at is None
    assert (incident.events.count(), Entry.objects.count()) == before
    # Bawaslu may still write on the timeline: oversight notes.
    services.comment_on_incident(actor=bawaslu_okut, incident_id=incident.pk, text="Dicatat.")
    assert incident.events.filter(kind="comment", actor=bawaslu_okut).count() == 1


def test_nobody_acknowledges_so_reminders_then_the_next_tier_then_the_province(
    world: World, guard_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    start = incident.reported_at
    assert services.escalate_due(start + timedelta(minutes=1)) == 0  # nothing due yet
    # Minute 2: a reminder to tier 1.
    assert services.escalate_due(start + timedelta(minutes=2)) == 1
    incident.refresh_from_db()
    assert incident.tier == 1
    assert incident.events.filter(kind=EventKind.REMINDED).count() == 1
    assert Notified.objects.get(incident=incident, user=posts.kapolres).times == 2
    # Minute 5: the deadline passed: Kabag Ops and the KPU chair are called up.
    services.escalate_due(start + timedelta(minutes=4))
    services.escalate_due(start + timedelta(minutes=5))
    incident.refresh_from_db()
    assert incident.tier == 2
    assert told(incident) == {
        "kapolres.okut": 1,
        "komisioner.okut": 1,
        "bawaslu.okut": 1,
        "kabagops.okut": 2,
        "ketua.okut": 2,
    }
    # Thirty more minutes: the province (the Polda; no KPU or Bawaslu unit there in this world).
    services.escalate_due(start + timedelta(minutes=34))
    assert Incident.objects.get(pk=incident.pk).tier == 2
    services.escalate_due(start + timedelta(minutes=35))
    incident.refresh_from_db()
    assert incident.tier == 3
    assert told(incident)["kapolda.sumsel"] == 3
    escalations = list(
        incident.events.filter(kind=EventKind.ESCALATED).values_list("data__tier", flat=True)
    )
    assert escalations == [1, 2, 3]
    assert Entry.objects.filter(subject_id=str(incident.pk), kind="incident.escalated").count() == 3
    # The Kabag Ops hears it in-app, and it is on his list of open acknowledgements.
    assert Message.objects.filter(user=posts.kabag_ops, channel="inapp").exists()
    assert list(services.open_acknowledgements(posts.kabag_ops)) == [incident]


def test_acknowledgement_stops_the_escalation(
    world: World, guard_okut: User, commissioner_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    services.acknowledge_incident(actor=commissioner_okut, incident_id=incident.pk)
    assert services.escalate_due(incident.reported_at + timedelta(hours=1)) == 0
    incident.refresh_from_db()
    assert incident.tier == 1
    assert list(services.open_acknowledgements(posts.kapolres)) == []
    assert not incident.events.filter(kind__in=[EventKind.REMINDED]).exists()


def test_a_post_nobody_holds_falls_back_to_the_whole_role(
    world: World, guard_okut: User, kapolres_okut: User, commissioner_okut: User
) -> None:
    """Without posts recorded, tier 1 still reaches the Kapolres and the commissioner."""
    incident = report(guard_okut, world)
    assert set(told(incident)) == {"kapolres.okut", "komisioner.okut", "bawaslu.okut"}


def test_comment_with_a_client_id_is_idempotent(
    world: World, guard_okut: User, posts: Posts
) -> None:
    incident = report(guard_okut, world)
    client_id = uuid.uuid4()
    first = services.comment_on_incident(
        actor=guard_okut, incident_id=incident.pk, text="Air naik.", id=client_id
    )
    again = services.comment_on_incident(
        actor=guard_okut, incident_id=incident.pk, text="Air naik.", id=client_id
    )
    assert first.pk == again.pk
    assert IncidentEvent.objects.filter(incident=incident, kind="comment").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_report_racing_in_twice_is_one_incident(world: World, guard_okut: User) -> None:
    """Two resends of one report arrive at once (two web processes): one incident, and both
    answers carry it."""
    import threading

    from django.db import connection

    client_id = uuid.uuid4()
    results: list[object] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        try:
            barrier.wait()
            results.append(
                services.report_incident(
                    actor=guard_okut,
                    id=client_id,
                    category="banjir",
                    severity=2,
                    site_id=world.warehouse_okut.pk,
                ).incident.pk
            )
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [client_id] * 4
    assert Incident.objects.filter(pk=client_id).count() == 1
    assert IncidentEvent.objects.filter(incident_id=client_id, kind="reported").count() == 1

"""Demo incidents, shaped on scenario 3 ("A leak at night"): at 23:40 rain comes through the
roof of hall B; the guard on patrol reports it with a photo; the Kapolres and the logistics
commissioner are told and do not answer; five minutes later the Kabag Ops and the KPU chair
are called up; at 00:05 the commissioner acknowledges and comes in; two cartons of DPD
ballots are recorded as damaged. Everything goes through the services, so the timeline,
the ledger and the outbox hold exactly what a real night would leave."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from PIL import Image, ImageDraw

from siaga.accounts.models import Membership, User
from siaga.alarms import services as alarms
from siaga.incidents import services as incidents
from siaga.incidents.models import Incident
from siaga.sites.models import Site, Zone

# The posts that the escalation tiers name.
POSITIONS = {
    "kapolres.okut": "Kapolres",
    "kabagops.okut": "Kabag Ops",
    "komisioner.okut": "Divisi Logistik",
    "ketua.okut": "Ketua",
}


@dataclass(frozen=True)
class NightReport:
    incident: Incident
    created: bool


def _photo() -> bytes:
    """A stand-in for the guard's photo: water on a pallet in hall B."""
    image = Image.new("RGB", (640, 480), (52, 64, 72))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 300, 560, 420), fill=(150, 110, 60))  # pallet
    for x in range(120, 560, 60):
        draw.rectangle((x, 250, x + 40, 300), fill=(200, 200, 190))  # cartons
    for x, y in ((200, 40), (330, 90), (450, 20)):
        draw.ellipse((x, y, x + 14, y + 26), fill=(120, 170, 230))  # drops
    draw.rectangle((0, 440, 640, 480), fill=(0, 0, 0))
    draw.text((12, 452), "Gudang B - palet 3 - 23:41", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _last_night() -> datetime:
    """23:40 local time of the evening before today."""
    today = timezone.localtime().replace(hour=23, minute=40, second=0, microsecond=0)
    return today - timedelta(days=1)


def _others(users: dict[str, User], warehouse: Site, hall_a: Zone) -> None:
    """A closed incident from last week, one waiting for the Kapolres right now, and one
    across the border in OKU that nobody in OKU Timur sees."""
    from siaga.demo.world import stable_id

    now = timezone.now()
    guard, operator = users["jaga.okut"], users["kpu.okut"]
    week_ago = now - timedelta(days=6, hours=3)
    cctv_id = stable_id("incident", "cctv-down")
    if not Incident.objects.filter(pk=cctv_id).exists():
        cctv = incidents.report_incident(
            actor=guard,
            id=cctv_id,
            category="cctv_listrik",
            severity=3,
            site_id=warehouse.pk,
            zone_id=hall_a.pk,
            description="Listrik padam 40 menit; CCTV Gudang A mati, genset tidak menyala.",
            occurred_at=week_ago,
            now=week_ago + timedelta(minutes=3),
        ).incident
        incidents.acknowledge_incident(
            actor=operator, incident_id=cctv.pk, now=week_ago + timedelta(minutes=9)
        )
        incidents.resolve_incident(
            actor=operator,
            incident_id=cctv.pk,
            resolution="Listrik PLN kembali 19:42; genset diservis, CCTV merekam lagi.",
            now=week_ago + timedelta(minutes=50),
        )
        incidents.close_incident(
            actor=operator, incident_id=cctv.pk, now=week_ago + timedelta(hours=2)
        )
    seal_id = stable_id("incident", "ppk-seal")
    ppk = (
        Site.objects.filter(kind="ppk", region__code__startswith="16.08.").order_by("code").first()
    )
    if ppk is not None and not Incident.objects.filter(pk=seal_id).exists():
        incidents.report_incident(
            actor=guard,
            id=seal_id,
            category="kerusakan_logistik",
            severity=2,
            site_id=ppk.pk,
            description="Segel plastik kotak suara nomor 7 putus saat pemeriksaan pagi.",
            occurred_at=now - timedelta(minutes=4),
            now=now - timedelta(minutes=3),
        )
    theft_id = stable_id("incident", "oku-theft")
    oku_operator = User.objects.filter(username="kpu.oku").first()
    oku_warehouse = Site.objects.filter(code="GUDANG-16.01").first()
    if oku_operator and oku_warehouse and not Incident.objects.filter(pk=theft_id).exists():
        incidents.report_incident(
            actor=oku_operator,
            id=theft_id,
            category="pencurian",
            severity=3,
            site_id=oku_warehouse.pk,
            description="Kabel listrik halaman gudang hilang dicuri semalam.",
            occurred_at=now - timedelta(hours=9),
            now=now - timedelta(hours=2),
        )


def build_incidents() -> NightReport:
    """Create the night's incident (once) and the alarm that went with it."""
    from siaga.demo.world import stable_id

    for username, post in POSITIONS.items():
        Membership.objects.filter(user__username=username, position="").update(position=post)
    incident_id = stable_id("incident", "night-leak")
    users = {
        u.username: u
        for u in User.objects.filter(username__in=[*POSITIONS, "jaga.okut", "kpu.okut"])
    }
    guard, commissioner = users["jaga.okut"], users["komisioner.okut"]
    warehouse = Site.objects.get(code="GUDANG-16.08")
    hall_b = Zone.objects.get(site=warehouse, name="Gudang B")
    _others(users, warehouse, Zone.objects.get(site=warehouse, name="Gudang A"))
    existing = Incident.objects.filter(pk=incident_id).first()
    if existing is not None:
        return NightReport(existing, created=False)
    t0 = _last_night()
    # 23:38: the humidity in hall B climbs past its threshold (a warning: no incident).
    humidity = alarms.raise_alarm(
        source="hazards",
        key="sensor:HUM-GB-01",
        kind="humidity_high",
        site=warehouse,
        zone=hall_b,
        severity="warning",
        message="Kelembapan Gudang B 91% (ambang 85%)",
        evidence=[{"type": "reading", "id": "HUM-GB-01@23:38", "label": "RH 91%"}],
        now=t0 - timedelta(minutes=2),
    )
    alarms.acknowledge_alarm(actor=guard, alarm_id=humidity.pk, now=t0)
    photo = _photo()
    night = incidents.report_incident(
        actor=guard,
        id=incident_id,
        category="banjir",
        severity=2,
        site_id=warehouse.pk,
        zone_id=hall_b.pk,
        description=(
            "Atap Gudang B bocor saat hujan deras. Air menetes ke palet 3 (surat suara DPD). "
            "Terpal sudah dipasang sebagian."
        ),
        occurred_at=t0,
        photo=io.BytesIO(photo),
        photo_size=len(photo),
        now=t0 + timedelta(minutes=1),
    ).incident
    alarms.link_alarm(
        actor=guard, alarm_id=humidity.pk, incident_id=night.pk, now=t0 + timedelta(minutes=1)
    )
    # Nobody answers: reminders at 23:43, the Kabag Ops and the chair at 23:46, reminders on.
    minute = 2
    while minute <= 24:
        incidents.escalate_due(t0 + timedelta(minutes=minute))
        minute += 1
    incidents.acknowledge_incident(
        actor=commissioner, incident_id=night.pk, now=t0 + timedelta(minutes=25)
    )
    incidents.comment_on_incident(
        actor=commissioner,
        incident_id=night.pk,
        text="Saya menuju gudang. Pindahkan palet 3 ke Gudang A, dua petugas mendampingi.",
        now=t0 + timedelta(minutes=26),
    )
    incidents.start_response(
        actor=commissioner, incident_id=night.pk, now=t0 + timedelta(minutes=45)
    )
    incidents.comment_on_incident(
        actor=guard,
        incident_id=night.pk,
        text="Palet 3 dipindah ke Gudang A. Ember dipasang di bawah titik bocor.",
        now=t0 + timedelta(minutes=70),
    )
    incidents.resolve_incident(
        actor=commissioner,
        incident_id=night.pk,
        resolution=(
            "2 karton surat suara DPD basah dan dicatat rusak; penggantian diminta ke "
            "percetakan. Atap akan diperbaiki pagi ini."
        ),
        now=t0 + timedelta(minutes=90),
    )
    return NightReport(Incident.objects.get(pk=night.pk), created=True)

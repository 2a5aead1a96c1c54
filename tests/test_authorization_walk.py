"""Every URL and API route, walked as an anonymous visitor and as users of another kabupaten.

Whatever a later issue adds is walked too: a new route whose parameters this file cannot fill
fails the walk until someone names, below, the OKU Timur object to aim it at. Each request must
be refused (or show nothing of OKU Timur), and nothing may change.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from siaga.access import services as access
from siaga.accounts.models import User
from siaga.accounts.services import issue_api_token
from siaga.alarms.services import raise_alarm
from siaga.incidents.services import report_incident
from siaga.ledger.models import Entry
from siaga.logistics import services as logistics
from siaga.notify import services as notify
from siaga.notify.choices import Channel, MessageState
from siaga.notify.models import Message
from siaga.safety import services as safety
from siaga.sites.models import Site
from siaga.weather import services as weather
from tests.conftest import World
from tests.weather.conftest import current

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]

# Routes anyone may call. Each still must not show or change OKU Timur data.
PUBLIC = {
    "healthz",
    "readyz",  # whether each check passes; its detail is for a signed-in admin (tests/ops)
    "login",
    "logout",
    "set_language",
    "api:openapi-json",
    "api:openapi-view",
    "api:api-root",
    "api:create_token",
    "api:list_provinces",
    "api:get_region",
    "api:get_key",
    "api:latest_checkpoint",
    "api-not-found",
    "admin:login",
    "admin:logout",
    "admin:jsi18n",
    "otp_webauthn:js-i18n-catalog",
    "password-reset",
    "password-reset-sent",
    "password-reset-confirm",
    "password-reset-complete",
}

# Tables a refused request may still touch: the throttle's records, sessions, and regions
# (read-only data). ``ApiToken`` rows of the acting user are theirs to create.
UNWATCHED = {
    # Every look-up by NIK is recorded, a refused one too (that is the point of the log:
    # tests/privacy asserts what a refusal records, and that it names nothing of OKU Timur).
    "privacy.lookuplog",
    # /readyz proves the database takes writes by writing its one probe row (tests/ops).
    "ops.writeprobe",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "sessions.session",
    "regions.region",
    "contenttypes.contenttype",
    "auth.permission",
}

# Tables whose rows of the acting user are theirs to create or change (field naming the owner).
OWN_ROWS = {
    "accounts.apitoken": "user",
    "otp_totp.totpdevice": "user",
    "otp_static.staticdevice": "user",
    "otp_static.statictoken": "device__user",
    "django_otp_webauthn.webauthnuserhandle": "user",
    "django_otp_webauthn.webauthncredential": "user",
    "accounts.signinevent": "user",
}

# Routes where signed-in users manage their own account (second factor, password): what they
# write is their own devices and the ledger entry that records it, never another region's data.
SELF_SERVICE = {
    "two-factor-recovery-codes",
}
LEDGER_TABLES = {"ledger.node", "ledger.head", "ledger.checkpoint"}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    params: tuple[str, ...]
    # Every name on this path: one path may carry several API operations (GET and POST).
    names: frozenset[str] = frozenset()


def walk(resolver: URLResolver, namespace: str | None = None) -> Iterator[Route]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            full = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            for route in walk(pattern, full):
                yield Route(route.name, str(pattern.pattern) + route.path, route.params)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield Route(name, str(pattern.pattern), tuple(pattern.pattern.regex.groupindex))


def all_routes() -> list[Route]:
    by_path: dict[str, list[Route]] = {}
    for route in walk(get_resolver()):
        by_path.setdefault(route.path, []).append(route)
    return [
        Route(routes[0].name, path, routes[0].params, frozenset(r.name for r in routes))
        for path, routes in by_path.items()
    ]


def body_for(route: Route, target: Target) -> dict[str, Any] | None:
    return next((target.bodies[n] for n in sorted(route.names) if n in target.bodies), None)


@dataclass
class Target:
    """OKU Timur objects to aim every route at."""

    values: dict[str, str]
    canaries: list[str]
    bodies: dict[str, dict[str, Any]]


@pytest.fixture
def target(world: World, operator_okut: User) -> Target:
    token, raw = issue_api_token(actor=operator_okut, name="gate phone")
    authenticator = TOTPDevice.objects.create(user=operator_okut, name="walk", confirmed=True)
    site = world.warehouse_okut
    ledger_entry = Entry.objects.filter(region__startswith="16.08").order_by("seq").first()
    assert ledger_entry is not None
    # A Telegram chat of an OKU Timur operator, and a dead letter to it.
    chat = notify.add_endpoint(
        actor=operator_okut, channel=Channel.TELEGRAM, address="-1001608160816"
    ).obj
    notify.notify_user(
        operator_okut,
        kind="test.walk",
        title="Banjir di Gudang A OKU Timur",
        body="Air masuk gudang.",
        dedup_key="walk",
    )
    dead = Message.objects.get(endpoint=chat)
    Message.objects.filter(pk=dead.pk).update(
        state=MessageState.DEAD, next_attempt_at=None, last_error="Bad Request: chat not found"
    )
    # An incident with a photo, reported in OKU Timur, and an alarm there.
    incident = report_incident(
        actor=operator_okut,
        category="banjir",
        severity=2,
        site_id=site.pk,
        description="Atap bocor di Gudang B OKU Timur",
        photo=io.BytesIO(_jpeg()),
    ).incident
    photo = incident.photos.get()
    leak = raise_alarm(
        source="hazards",
        key="walk:WL-B-01",
        kind="water_leak",
        site=site,
        severity="major",
        message="Sensor WL-B-01 basah OKU Timur",
    )
    weather = _weather(world)
    gate = _gate_traffic(world, operator_okut)
    custody = _custody_traffic(world, operator_okut)
    equipment = _safety_equipment(world, operator_okut)
    hazards = _hazards_traffic(world)
    values = {
        **gate.values,
        **custody.values,
        **equipment.values,
        **hazards.values,
        "site_id": str(site.pk),
        "token_id": str(token.pk),
        "pk": str(authenticator.pk),
        "code": "16.08",
        "rest": "anything",
        # A reset link for an OKU Timur account, with a token that was never issued.
        "uidb64": urlsafe_base64_encode(force_bytes(operator_okut.pk)),
        "token": "set-password",
        # Django admin
        "object_id": str(site.pk),
        "app_label": "sites",
        "content_type_id": str(ContentType.objects.get_for_model(site).pk),
        "url": "sites/site/",
        "id": str(operator_okut.pk),
        "seq": str(ledger_entry.seq),
        "message_id": str(dead.pk),
        "endpoint_id": str(chat.pk),
        "incident_id": str(incident.pk),
        "photo_id": str(photo.pk),
        "alarm_id": str(leak.pk),
        **weather.values,
    }
    canaries = [
        "GUDANG-16.08",
        str(site.pk),
        str(world.hall_a_okut.pk),
        "Gudang Logistik KPU OKU Timur",
        token.prefix,
        raw,
        "kpu.okut",
        "-1001608160816",
        "Banjir di Gudang A OKU Timur",
        "Atap bocor di Gudang B OKU Timur",
        "Sensor WL-B-01 basah OKU Timur",
        incident.reference,
        *gate.canaries,
        *custody.canaries,
        *equipment.canaries,
        *weather.canaries,
        *hazards.canaries,
    ]
    bodies: dict[str, dict[str, Any]] = {
        **custody.bodies,
        **equipment.bodies,
        **hazards.bodies,
        "api:create_site": {
            "code": "PPK-16.08.05",
            "name": "Gudang PPK X",
            "kind": "ppk",
            "region": "16.08.05",
            "owner_unit": world.units["kpu:16.08"].pk,
        },
        "api:create_zone": {"name": "Gudang C", "kind": "storage", "restricted": True},
        "sites:list": {"q": "Gudang"},
        "sites:chooser": {"purpose": "gate", "q": "Gudang"},
        "token-create": {"name": "mine"},
        # Well-formed bodies, so that the refusal comes from the scope, not from the shape.
        "api:resolve": {"resolution": "Atap ditambal"},
        "api:reopen": {"reason": "Bocor lagi"},
        "api:assign": {"user": operator_okut.pk},
        "api:comment": {"text": "Dicatat"},
        "incidents:resolve": {"resolution": "Atap ditambal"},
        "incidents:reopen": {"reason": "Bocor lagi"},
        "incidents:assign": {"user": operator_okut.pk},
        "incidents:comment": {"text": "Dicatat"},
        "api:add_photo": {"photo": _jpeg()},
        "api:link": {"incident": str(incident.pk)},
        "incidents:photo": {"photo": _jpeg()},
        **gate.bodies,
        **weather.bodies,
    }
    return Target(values, canaries, bodies)


NIK_GUEST = "1608011205850001"
NIK_STAFF = "1608014404880004"
NIK_SUSPECT = "1608011111800006"


def _gate_traffic(world: World, operator_okut: User) -> Target:
    """A pass holder inside the OKU Timur warehouse, an approved visit, a watchlisted NIK."""
    commissioner = User.objects.get(username="komisioner.okut")
    kapolres = User.objects.get(username="kapolres.okut")
    site = world.warehouse_okut
    now = timezone.now()
    staff_pass = access.issue_pass(
        actor=commissioner,
        person=access.PersonData(nik=NIK_STAFF, name="Rina Petugas OKU Timur"),
        site_id=site.pk,
        zone_ids=[world.hall_a_okut.pk],
        kind="staff",
        officer="kpu",
        valid_from=now - dt.timedelta(days=1),
        valid_until=now + dt.timedelta(days=30),
    ).obj
    event = access.check_in(actor=operator_okut, id=uuid.uuid4(), badge=staff_pass.qr_payload).obj
    visit = access.register_visit(
        actor=operator_okut,
        person=access.PersonData(nik=NIK_GUEST, name="Andi Sopir OKU Timur"),
        site_id=site.pk,
        zone_ids=[],
        purpose="delivery",
        host_id=None,
        planned_end=now + dt.timedelta(hours=2),
    ).obj
    suspect = access.set_watchlist(
        actor=kapolres, nik=NIK_SUSPECT, name="Budi DPO OKU Timur", listed=True, reason="DPO"
    )
    values = {
        "visit_id": str(visit.pk),
        "event_id": str(event.pk),
        "visitor_id": str(event.visitor_id),
        "pass_id": str(staff_pass.pk),
    }
    later = (now + dt.timedelta(hours=3)).isoformat()
    bodies: dict[str, dict[str, Any]] = {
        "api:register_visit": {
            "visitor": {"nik": "1608015703920002", "name": "Tamu"},
            "site": str(site.pk),
            "purpose": "meeting",
            "planned_end": later,
        },
        "api:deny_visit": {"reason": "Tidak ada janji"},
        "api:check_in": {"id": str(uuid.uuid4()), "visit": str(visit.pk)},
        "api:check_out": {"id": str(uuid.uuid4()), "visitor": str(event.visitor_id)},
        "api:issue_pass": {
            "holder": {"nik": "1608020101900003", "name": "Pekerja"},
            "site": str(site.pk),
            "kind": "worker",
            "valid_until": later,
        },
        "api:put_rules": {"two_person_rule": False},
        "api:watchlist": {"nik": NIK_SUSPECT, "listed": False},
        # Look-ups of an OKU Timur person: the gate's, and the look-up log's search.
        "api:lookup_visitor": {"nik": NIK_GUEST},
        "privacy:lookups": {"nik": NIK_GUEST},
        "api:set_photo": {"photo": _jpeg()},
        # The gate's pages: well-formed forms aimed at OKU Timur.
        "access:check_in": {"id": str(uuid.uuid4()), "visit": str(visit.pk)},
        "access:check_out": {"id": str(uuid.uuid4()), "visitor": str(event.visitor_id)},
        "access:deny": {"reason": "Tidak ada janji"},
        "access:scan": {"badge": staff_pass.badge_code},
        # The walk-in's look-up by NIK, at an OKU Timur site, of an OKU Timur person.
        "access:walk_in_lookup": {"site": str(site.pk), "nik": NIK_GUEST},
        "access:walk_in": {
            "id": str(uuid.uuid4()),
            "site": str(site.pk),
            "nik": "1608015703920002",
            "name": "Tamu",
            "purpose": "meeting",
            "host": str(operator_okut.pk),
            "planned_end": (now + dt.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"),
        },
        "access:passes": {
            "id": str(uuid.uuid4()),
            "site": str(site.pk),
            "nik": "1608020101900003",
            "name": "Pekerja",
            "kind": "worker",
            "weekdays": "1",
            "valid_until": (now + dt.timedelta(days=2)).date().isoformat(),
        },
        "access:rules": {"after_hours_start": "19:00", "after_hours_end": "06:00"},
        "access:watchlist": {"listed": "0", "visitor": str(suspect.pk)},
    }
    canaries = [
        "Rina Petugas OKU Timur",
        "Andi Sopir OKU Timur",
        "Budi DPO OKU Timur",
        staff_pass.badge_code,
        visit.reference,
    ]
    return Target(values, canaries, bodies)


def _weather(world: World) -> Target:
    """A BMKG heavy-rain warning in force over the OKU Timur warehouse; and, for the ingest
    route, a well-formed alert of another identifier (a refusal must come from the role)."""
    sent = timezone.now() - dt.timedelta(minutes=10)
    okut = current("cap-okut-alert-id.xml", sent=sent)
    warning = weather.ingest_document(okut).warning
    assert warning is not None and warning.sites.get().site == world.warehouse_okut
    other = current("cap-okut-alert-id.xml", sent=sent, suffix="WALK")
    return Target(
        values={"warning_id": str(warning.pk)},
        canaries=[warning.identifier, "Hujan Lebat di Kab. OKU Timur"],
        bodies={"api:ingest_document": {"document": other.decode(), "source": "walk"}},
    )


def _custody_traffic(world: World, operator_okut: User) -> Target:
    """A sealed package for an OKU Timur TPS on its way to PPK Martapura, and a short delivery
    still open as a discrepancy."""
    site = world.warehouse_okut
    election = logistics.seed_catalogue(code="pemilu-2029", voting_day=dt.date(2029, 2, 14))
    tps = Site.objects.create(
        code="TPS-16.08.01.1008-001",
        name="TPS 001 Pasar Martapura OKU Timur",
        kind="tps",
        region_id="16.08.01.1008",
        owner_unit=site.owner_unit,
        voters=250,
    )
    ppk = Site.objects.create(
        code="PPK-16.08.01",
        name="Gudang PPK Martapura OKU Timur",
        kind="ppk",
        region_id="16.08.01",
        owner_unit=site.owner_unit,
    )
    receipt = logistics.record_receipt(
        actor=operator_okut,
        id=uuid.uuid4(),
        site_id=site.pk,
        election=election.code,
        vendor="PT Percetakan OKU Timur",
        delivery_note="SJ-OKUT-1",
        lines=[logistics.ReceiptLineIn("ss-ppwp", 600, 500)],
    ).obj
    package = logistics.pack_package(
        actor=operator_okut,
        id=uuid.uuid4(),
        site_id=site.pk,
        destination_id=tps.pk,
        election=election.code,
        kind="box",
        lines=[logistics.Line("ss-ppwp", 255)],
        seals=["SG-OKUT-0001"],
    ).obj
    handover = logistics.dispatch_handover(
        actor=operator_okut,
        id=uuid.uuid4(),
        from_site_id=site.pk,
        to_site_id=ppk.pk,
        election=election.code,
        packages=[package.code],
        witnesses=[logistics.Witness("Bripka Joko", "polri")],
    ).obj
    shortfall = receipt.discrepancies.get()
    values = {
        "handover_id": str(handover.pk),
        "package_code": package.code,
        "discrepancy_id": str(shortfall.pk),
        "election_code": election.code,
    }
    line = {"item": "ss-ppwp", "quantity": 1}
    bodies: dict[str, dict[str, Any]] = {
        "api:record_receipt": {
            "id": str(uuid.uuid4()),
            "site": str(site.pk),
            "election": election.code,
            "vendor": "PT X",
            "delivery_note": "SJ-2",
            "lines": [{"item": "ss-ppwp", "expected": 1, "counted": 1}],
        },
        "api:record_sorting": {
            "id": str(uuid.uuid4()),
            "site": str(site.pk),
            "election": election.code,
            "started_at": "2029-01-20T08:00:00+07:00",
            "ended_at": "2029-01-20T16:00:00+07:00",
            "lines": [{"item": "ss-ppwp", "good": 1, "damaged": 1}],
        },
        "api:record_destruction": {
            "id": str(uuid.uuid4()),
            "site": str(site.pk),
            "election": election.code,
            "method": "Dibakar",
            "witnesses": [{"name": "A", "agency": "polri"}, {"name": "B", "agency": "bawaslu"}],
            "lines": [{"item": "ss-ppwp", "excess": 1}],
        },
        "api:pack_package": {
            "id": str(uuid.uuid4()),
            "site": str(site.pk),
            "destination": str(tps.pk),
            "election": election.code,
            "kind": "box",
            "lines": [line],
            "seals": ["SG-OKUT-0002"],
        },
        "api:reseal_package": {
            "id": str(uuid.uuid4()),
            "new_seals": ["SG-OKUT-0003"],
            "counted": [line],
            "witnesses": [{"name": "A", "agency": "polri"}],
        },
        "api:dispatch_handover": {
            "id": str(uuid.uuid4()),
            "from_site": str(site.pk),
            "to_site": str(ppk.pk),
            "election": election.code,
            "lines": [line],
            "witnesses": [{"name": "A", "agency": "polri"}],
        },
        "api:receive_handover": {"lines": []},
        "api:scans": {
            "scans": [
                {
                    "id": str(uuid.uuid4()),
                    "action": "receive",
                    "code": package.code,
                    "handover": str(handover.pk),
                }
            ]
        },
        "api:resolve_discrepancy": {"resolution": "Dikirim susulan"},
    }
    canaries = [handover.number, package.code, "SG-OKUT-0001", "TPS 001 Pasar Martapura OKU Timur"]
    return Target(values, canaries, bodies)


def _safety_equipment(world: World, operator_okut: User) -> Target:
    """An expired APAR in hall A of the OKU Timur warehouse (so also its alarm), serviced once."""
    site = world.warehouse_okut
    today = timezone.localdate()
    item = safety.add_equipment(
        actor=operator_okut,
        site_id=site.pk,
        zone_id=world.hall_a_okut.pk,
        kind="fire_extinguisher",
        variant="co2",
        size_kg=Decimal("5"),
        serial="APAR-WALK-OKUT",
        location="Samping panel listrik OKU Timur",
        installed_on=today - dt.timedelta(days=2000),
        expiry_on=today - dt.timedelta(days=3),
        next_service_on=today + dt.timedelta(days=30),
        responsible_id=operator_okut.pk,
    ).obj
    safety.record_service(
        actor=operator_okut,
        equipment_id=item.pk,
        performed_on=today,
        work="inspection",
        notes="Selang retak OKU Timur",
        next_service_on=today + dt.timedelta(days=60),
    )
    later = (today + dt.timedelta(days=90)).isoformat()
    service = {
        "performed_on": today.isoformat(),
        "work": "inspection",
        "next_service_on": later,
    }
    bodies: dict[str, dict[str, Any]] = {
        "api:create_equipment": {
            "site": str(site.pk),
            "zone": str(world.hall_a_okut.pk),
            "kind": "fire_extinguisher",
            "variant": "powder",
            "size_kg": "6",
            "installed_on": today.isoformat(),
            "expiry_on": later,
            "responsible": operator_okut.pk,
        },
        "api:update_equipment": {"state": "out_of_service", "expiry_on": later},
        "api:record_service": {"id": str(uuid.uuid4()), **service},
        "safety:index": {"site": str(site.pk)},
        "safety:add": {
            "add-id": str(uuid.uuid4()),
            "add-kind": "smoke_detector",
            "add-installed_on": today.isoformat(),
            "add-next_service_on": later,
            "add-responsible": str(operator_okut.pk),
        },
        "safety:equipment": {
            "change-state": "out_of_service",
            "change-expiry_on": later,
            "change-responsible": str(operator_okut.pk),
        },
        "safety:service": {
            "service-id": str(uuid.uuid4()),
            **{f"service-{k}": v for k, v in service.items()},
        },
    }
    values = {"equipment_id": str(item.pk), "name": "equipment"}
    canaries = ["APAR-WALK-OKUT", "Samping panel listrik OKU Timur", "Selang retak OKU Timur"]
    return Target(values, canaries, bodies)


def _hazards_traffic(world: World) -> Target:
    """A humidity sensor in hall A of the OKU Timur warehouse with readings (one rejected and
    counted), and the warehouse's device token."""
    from siaga.hazards import services as hazards

    site = world.warehouse_okut
    sensor = hazards.create_sensor(
        actor=None,
        site_id=site.pk,
        zone_id=world.hall_a_okut.pk,
        device_id="HUM-OKUT-A1",
        kind="humidity",
        name="Kelembapan Gudang A OKU Timur",
    ).obj
    token, raw = hazards.issue_device_token(actor=None, site_id=site.pk, name="Gateway OKU Timur")
    hazards.ingest(
        [
            hazards.Message("HUM-OKUT-A1", {"id": "walk-1", "value": 77.7}),
            hazards.Message("HUM-OKUT-A1", {"id": "walk-2", "value": 150}),
        ],
        channel="http",
        site=site,
    )
    values = {"sensor_id": str(sensor.pk), "device_token_id": str(token.pk)}
    bodies: dict[str, dict[str, Any]] = {
        "api:create_sensor": {"device_id": "WL-OKUT-B1", "kind": "water_leak"},
        "api:issue_device_token": {"name": "Gateway kedua"},
        "api:post_readings": {"readings": [{"sensor": "HUM-OKUT-A1", "id": "w3", "value": 80}]},
    }
    canaries = ["HUM-OKUT-A1", "Kelembapan Gudang A OKU Timur", token.prefix, raw, "walk-1"]
    return Target(values, canaries, bodies)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


def snapshot(actor: User | None, *, own_account: bool = False) -> dict[str, list[Any]]:
    state: dict[str, list[Any]] = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in UNWATCHED or (own_account and label in LEDGER_TABLES):
            continue
        rows = model._default_manager.all()
        if own_account and model is Entry and actor is not None:
            rows = rows.exclude(actor=actor.username, subject_id=str(actor.pk))
        if label in OWN_ROWS and actor is not None:
            # The acting user's own tokens and second-factor devices are theirs to change.
            rows = rows.exclude(**{OWN_ROWS[label]: actor})
        if model is User:
            # Signing in stamps last_login; everything else of a user must stay.
            rows = rows.defer("last_login")
            state[label] = sorted(
                map(
                    repr,
                    rows.values_list(
                        "pk", "username", "password", "is_active", "is_staff", "is_superuser"
                    ),
                )
            )
            continue
        state[label] = sorted(map(repr, rows.values_list()))
    return state


def rows_changed() -> int:
    """Rows this connection has inserted, updated or deleted so far (in this transaction on
    PostgreSQL): when it has not moved, nothing was written, and no snapshot need be taken."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT total_changes()")
        else:
            cursor.execute(
                "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                "FROM pg_stat_xact_user_tables"
            )
        return int(cursor.fetchone()[0])


class Watch:
    """Asserts that a request changed nothing, as comparing a snapshot of every table before
    and after it would — but takes the snapshots only when the database says that rows were
    written (a session saved, a refusal logged, an own token used, or a real change)."""

    def __init__(self, actor: User | None) -> None:
        self.actor = actor
        self.states: dict[bool, dict[str, list[Any]]] = {}
        self.mark = rows_changed()

    def before(self, own_account: bool) -> None:
        if own_account not in self.states:
            self.states[own_account] = snapshot(self.actor, own_account=own_account)
            self.mark = rows_changed()

    def unchanged(self, own_account: bool) -> bool:
        mark = rows_changed()
        if mark == self.mark:
            return True
        before = self.states[own_account]
        self.states = {own_account: snapshot(self.actor, own_account=own_account)}
        self.mark = rows_changed()
        return self.states[own_account] == before


def send(client: Client, method: str, url: str, body: dict[str, Any] | None) -> Any:
    files = {k: v for k, v in (body or {}).items() if isinstance(v, bytes)}
    if files and method == "post":
        # Bytes in a body are a file: sent as multipart, a fresh upload each time.
        uploads = {k: SimpleUploadedFile(f"{k}.jpg", v, "image/jpeg") for k, v in files.items()}
        return client.post(url, {**(body or {}), **uploads})
    if files:
        body = {k: v for k, v in (body or {}).items() if k not in files}
    if url.startswith("/api/") and method != "get":
        payload = json.dumps(body or {})
        return getattr(client, method)(url, payload, content_type="application/json")
    if method == "get":
        return client.get(url, body or {})
    if method == "post":
        return client.post(url, body or {})
    return getattr(client, method)(url)


def url_for(route: Route, target: Target) -> str:
    missing = [p for p in route.params if p not in target.values]
    assert not missing, (
        f"route {route.name} ({route.path}) has parameters {missing} that the authorization "
        "walk cannot fill: add OKU Timur values for them in tests/test_authorization_walk.py"
    )
    return reverse(route.name, kwargs={p: target.values[p] for p in route.params})


def assert_no_canary(
    response: Any, target: Target, where: str, url: str, asked: dict[str, Any] | None = None
) -> None:
    # A page may echo what it was asked for (the address with its query string, an id in an
    # error's detail): that tells the caller nothing new. Anything else of OKU Timur is a leak.
    body = response.content.decode(errors="replace").replace(url, "")
    for value in (asked or {}).values():
        if isinstance(value, str) and value:
            body = body.replace(value, "")
    for value in target.values.values():
        # (a short value such as a numeric pk would strip every such digit from the body)
        if len(value) >= 4 and value in url:
            body = body.replace(value, "")
    leaked = [c for c in target.canaries if c in body]
    assert not leaked, f"{where} shows OKU Timur data: {leaked}"


def test_every_route_is_walked() -> None:
    names = set().union(*(route.names for route in all_routes()))
    # A canary for the walk itself: it sees the app routes, the API and the admin.
    assert {"home", "sites:detail", "api:get_site", "api:create_site", "admin:index"} <= names


def test_the_watch_sees_a_write_and_lets_an_unwatched_one_pass(world: World) -> None:
    watch = Watch(None)
    watch.before(False)
    assert watch.unchanged(False)
    Site.objects.filter(pk=world.warehouse_okut.pk).update(name="Gudang yang diganti")
    assert not watch.unchanged(False)
    watch.before(False)
    ContentType.objects.create(app_label="walk", model="unwatched")  # an UNWATCHED table
    assert watch.unchanged(False)


def test_anonymous_gets_only_public_routes(client: Client, target: Target) -> None:
    watch = Watch(None)
    for route in all_routes():
        url = url_for(route, target)
        for method in METHODS:
            watch.before(False)
            response = send(client, method, url, body_for(route, target))
            where = f"anonymous {method.upper()} {url} ({route.name})"
            assert response.status_code != 500, where
            asked = body_for(route, target) if method == "get" else None
            assert_no_canary(response, target, where, url, asked)
            assert watch.unchanged(False), f"{where} changed data"
            if route.names & PUBLIC:
                continue
            if response.status_code == 302:
                assert response["Location"].startswith(("/login/", "/admin/login/")), where
            else:
                assert response.status_code in (401, 403, 404, 405), (
                    f"{where} answered {response.status_code}"
                )


@pytest.mark.parametrize("persona", ["kpu_oku", "admin_oku"])
def test_users_of_another_kabupaten_see_and_change_nothing_here(
    client_for: Any, target: Target, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    client = client_for(user)
    watch = Watch(user)
    for route in all_routes():
        url = url_for(route, target)
        aimed = any(
            p
            in (
                "site_id",
                "token_id",
                "object_id",
                "seq",
                "message_id",
                "endpoint_id",
                "incident_id",
                "photo_id",
                "alarm_id",
                "visit_id",
                "event_id",
                "visitor_id",
                "pass_id",
                "handover_id",
                "package_code",
                "discrepancy_id",
                "equipment_id",
                "warning_id",
                "sensor_id",
                "device_token_id",
            )
            for p in route.params
        )
        for method in METHODS:
            own = bool(route.names & SELF_SERVICE)
            watch.before(own)
            response = send(client, method, url, body_for(route, target))
            where = f"{persona} {method.upper()} {url} ({route.name})"
            assert response.status_code != 500, where
            asked = body_for(route, target) if method == "get" else None
            assert_no_canary(response, target, where, url, asked)
            assert watch.unchanged(own), f"{where} changed data"
            if "api:create_site" in route.names and method == "post":
                assert response.status_code == 403, where
            if aimed and not route.name.startswith("admin:"):
                assert response.status_code in (403, 404, 405), (
                    f"{where} answered {response.status_code} for an OKU Timur object"
                )
            if route.name.startswith("admin:") and not route.names & PUBLIC:
                assert response.status_code == 302, where
                assert response["Location"].startswith("/admin/login/"), where
        client = client_for(user)  # a logout route may have ended the session

"""Adding, changing and servicing equipment: the ledger in the same transaction, idempotent
by client id, and every bad input refused with its code and nothing written."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, SiagaError
from siaga.ledger.models import Entry
from siaga.safety import services
from siaga.safety.models import Equipment, ServiceRecord
from siaga.sites.models import Zone
from tests.conftest import World
from tests.safety.conftest import state

pytestmark = pytest.mark.django_db


def entries(item: Equipment) -> list[str]:
    return list(
        Entry.objects.filter(subject_type="safety.equipment", subject_id=str(item.pk))
        .order_by("seq")
        .values_list("kind", flat=True)
    )


def test_adding_an_apar_records_it_and_its_ledger_entry(
    apar: Any, operator_okut: User, world: World, today: dt.date
) -> None:
    item = apar(serial="APAR-001", expiry_in=400, service_in=90)
    item.refresh_from_db()
    assert (item.site, item.zone, item.kind, item.variant) == (
        world.warehouse_okut,
        world.hall_a_okut,
        "fire_extinguisher",
        "powder",
    )
    assert item.size_kg == Decimal("6.00")
    assert item.state == "in_service"
    assert entries(item) == ["equipment.created"]
    entry = Entry.objects.get(subject_id=str(item.pk))
    assert entry.actor == "kpu.okut"
    assert entry.region == "16.08.01.1008"
    assert json.loads(entry.payload)["serial"] == "APAR-001"
    assert json.loads(entry.payload)["expiry_on"] == (today + dt.timedelta(days=400)).isoformat()
    assert json.loads(entry.payload)["responsible"] == "kpu.okut"
    assert not Alarm.objects.filter(source="safety").exists()


def test_the_same_client_id_again_returns_the_first_item(
    apar: Any, operator_okut: User, world: World, today: dt.date
) -> None:
    item_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "actor": operator_okut,
        "id": item_id,
        "site_id": world.warehouse_okut.pk,
        "kind": "smoke_detector",
        "installed_on": today - dt.timedelta(days=10),
        "next_service_on": today + dt.timedelta(days=80),
        "responsible_id": operator_okut.pk,
    }
    first = services.add_equipment(**fields)
    again = services.add_equipment(**fields)
    assert (first.created, again.created) == (True, False)
    assert again.obj.pk == item_id
    assert Equipment.objects.filter(pk=item_id).count() == 1
    assert entries(first.obj) == ["equipment.created"]
    before = state()
    with pytest.raises(Conflict) as refused:
        services.add_equipment(**{**fields, "location": "Plafon Gudang B"})
    assert refused.value.code == "id_reused"
    assert refused.value.detail["fields"] == ["location"]
    assert state() == before


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"expiry_on": "installed-1"}, "equipment_expiry_before_installation"),
        ({"next_service_on": "installed-1"}, "equipment_service_before_installation"),
        ({"installed_on": "today+1"}, "equipment_installed_in_future"),
        ({"size_kg": Decimal("-2")}, "equipment_size_invalid"),
        ({"size_kg": Decimal("0")}, "equipment_size_invalid"),
        ({"size_kg": Decimal("151")}, "equipment_size_invalid"),
        ({"size_kg": None}, "equipment_size_required"),
        ({"variant": ""}, "equipment_variant_required"),
        ({"variant": "optical"}, "equipment_variant_invalid"),
        ({"kind": "sprinkler"}, "equipment_kind_unknown"),
        ({"state": "lost"}, "equipment_state_unknown"),
        ({"expiry_on": None, "next_service_on": None}, "equipment_date_required"),
        ({"expiry_on": dt.date(9999, 12, 31)}, "date_out_of_range"),
        ({"site_id": "unknown"}, "site_unknown"),
        ({"zone_id": "unknown"}, "zone_unknown"),
        ({"zone_id": "other-site"}, "zone_unknown"),
        ({"responsible_id": "other-region"}, "responsible_out_of_scope"),
        ({"responsible_id": "bawaslu"}, "responsible_out_of_scope"),
        ({"responsible_id": 999_999}, "responsible_unknown"),
    ],
)
def test_bad_input_is_refused_with_its_code_and_nothing_written(
    apar: Any,
    world: World,
    kpu_oku: User,
    bawaslu_okut: User,
    today: dt.date,
    fields: dict[str, Any],
    code: str,
) -> None:
    installed = today - dt.timedelta(days=700)
    named = {
        "installed-1": installed - dt.timedelta(days=1),
        "today+1": today + dt.timedelta(days=1),
        "unknown": uuid.uuid4(),
        "other-site": Zone.objects.get(site=world.warehouse_oku).pk,
        "other-region": kpu_oku.pk,
        "bawaslu": bawaslu_okut.pk,
    }
    values = {k: named.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    if "installed_on" in values:
        values["expiry_on"] = today + dt.timedelta(days=400)
    before = state()
    with pytest.raises(InvalidInput) as refused:
        apar(**values)
    assert refused.value.code == code
    assert refused.value.status == 422
    assert state() == before


def test_a_size_is_for_an_apar_only(operator_okut: User, world: World, today: dt.date) -> None:
    before = state()
    with pytest.raises(InvalidInput) as refused:
        services.add_equipment(
            actor=operator_okut,
            site_id=world.warehouse_okut.pk,
            kind="water_pump",
            size_kg=Decimal("30"),
            installed_on=today,
            next_service_on=today + dt.timedelta(days=30),
            responsible_id=operator_okut.pk,
        )
    assert refused.value.code == "equipment_size_only_for_extinguisher"
    assert state() == before


def test_a_serial_is_unique_in_its_site(apar: Any) -> None:
    apar(serial="APAR-7")
    before = state()
    with pytest.raises(Conflict) as refused:
        apar(serial="APAR-7")
    assert refused.value.code == "equipment_serial_taken"
    assert state() == before


@pytest.mark.parametrize("persona", ["guard_okut", "bawaslu_okut", "commissioner_okut"])
def test_only_kpu_operators_and_admins_add_equipment(
    apar: Any, persona: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(persona)
    before = state()
    with pytest.raises(PermissionDenied) as refused:
        apar(actor=user)
    assert refused.value.code == "safety_not_allowed"
    assert state() == before


def test_another_kabupaten_does_not_see_the_site(apar: Any, kpu_oku: User) -> None:
    before = state()
    with pytest.raises(InvalidInput) as refused:
        apar(actor=kpu_oku, responsible_id=kpu_oku.pk, zone_id=None)
    assert refused.value.code == "site_unknown"
    assert state() == before


def test_an_admin_of_the_region_adds_equipment(apar: Any, admin_okut: User) -> None:
    item = apar(actor=admin_okut)
    assert entries(item) == ["equipment.created"]


# ---------------------------------------------------------------------------------------------
# Services


def test_a_service_moves_the_next_service_date_in_the_same_transaction(
    apar: Any, guard_okut: User, today: dt.date
) -> None:
    item = apar(service_in=5)
    record = services.record_service(
        actor=guard_okut,
        equipment_id=item.pk,
        performed_on=today,
        work="inspection",
        notes="Tekanan di zona hijau, segel utuh.",
        next_service_on=today + dt.timedelta(days=180),
    ).obj
    item.refresh_from_db()
    assert item.next_service_on == today + dt.timedelta(days=180)
    assert record.recorded_by == guard_okut
    assert entries(item) == ["equipment.created", "equipment.serviced"]
    entry = Entry.objects.get(kind="equipment.serviced")
    assert entry.actor == "jaga.okut"
    assert json.loads(entry.payload)["moved"] == {
        "next_service_on": [
            (today + dt.timedelta(days=5)).isoformat(),
            (today + dt.timedelta(days=180)).isoformat(),
        ]
    }


def test_a_replayed_service_returns_the_first_and_other_content_is_409(
    apar: Any, guard_okut: User, today: dt.date
) -> None:
    item = apar()
    record_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "actor": guard_okut,
        "equipment_id": item.pk,
        "id": record_id,
        "performed_on": today,
        "work": "inspection",
        "next_service_on": today + dt.timedelta(days=180),
    }
    first = services.record_service(**fields)
    again = services.record_service(**fields)
    assert (first.created, again.created) == (True, False)
    assert ServiceRecord.objects.count() == 1
    before = state()
    with pytest.raises(Conflict) as refused:
        services.record_service(**{**fields, "work": "refill"})
    assert refused.value.code == "id_reused"
    assert refused.value.status == 409
    assert state() == before


def test_an_older_service_recorded_late_does_not_move_the_dates_back(
    apar: Any, guard_okut: User, today: dt.date
) -> None:
    item = apar()
    services.record_service(
        actor=guard_okut,
        equipment_id=item.pk,
        performed_on=today,
        work="inspection",
        next_service_on=today + dt.timedelta(days=180),
    )
    services.record_service(
        actor=guard_okut,
        equipment_id=item.pk,
        performed_on=today - dt.timedelta(days=30),
        work="inspection",
        next_service_on=today + dt.timedelta(days=150),
    )
    item.refresh_from_db()
    assert item.next_service_on == today + dt.timedelta(days=180)
    assert ServiceRecord.objects.filter(equipment=item).count() == 2


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"performed_on": "today+1"}, "service_in_future"),
        ({"performed_on": "before-installation"}, "service_before_installation"),
        ({"next_service_on": None}, "service_next_date_required"),
        ({"next_service_on": "today"}, "service_next_date_not_after_service"),
        ({"expiry_on": "today"}, "service_expiry_not_after_service"),
        ({"work": "painting"}, "service_work_unknown"),
        ({"performed_on": dt.date(1, 1, 1)}, "date_out_of_range"),
    ],
)
def test_a_bad_service_is_refused_and_nothing_changes(
    apar: Any, guard_okut: User, today: dt.date, fields: dict[str, Any], code: str
) -> None:
    item = apar()
    named = {
        "today": today,
        "today+1": today + dt.timedelta(days=1),
        "before-installation": item.installed_on - dt.timedelta(days=1),
    }
    values: dict[str, Any] = {
        "actor": guard_okut,
        "equipment_id": item.pk,
        "performed_on": today,
        "work": "inspection",
        "next_service_on": today + dt.timedelta(days=180),
    }
    values.update({k: named.get(v, v) if isinstance(v, str) else v for k, v in fields.items()})
    if values.get("work") == "painting":
        values["work"] = "painting"
    before = state()
    with pytest.raises(InvalidInput) as refused:
        services.record_service(**values)
    assert refused.value.code == code
    assert state() == before


@pytest.mark.parametrize(
    ("persona", "error"),
    [
        ("bawaslu_okut", PermissionDenied),
        ("kapolres_okut", PermissionDenied),
        ("kpu_oku", NotFound),
    ],
)
def test_who_may_not_record_a_service_changes_nothing(
    apar: Any,
    today: dt.date,
    persona: str,
    error: type[SiagaError],
    request: pytest.FixtureRequest,
) -> None:
    item = apar()
    before = state()
    with pytest.raises(error) as refused:
        services.record_service(
            actor=request.getfixturevalue(persona),
            equipment_id=item.pk,
            performed_on=today,
            work="inspection",
            next_service_on=today + dt.timedelta(days=180),
        )
    assert refused.value.code == (
        "equipment_not_found" if error is NotFound else "safety_not_allowed"
    )
    assert state() == before


# ---------------------------------------------------------------------------------------------
# Changes


def test_a_change_is_one_ledger_entry_with_what_changed_and_a_repeat_writes_nothing(
    apar: Any, operator_okut: User, today: dt.date
) -> None:
    item = apar()
    new_expiry = today + dt.timedelta(days=700)
    services.change_equipment(
        actor=operator_okut,
        equipment_id=item.pk,
        changes={"expiry_on": new_expiry, "state": "out_of_service"},
    )
    before = state()
    services.change_equipment(
        actor=operator_okut,
        equipment_id=item.pk,
        changes={"expiry_on": new_expiry, "state": "out_of_service"},
    )
    assert state() == before
    assert entries(item) == ["equipment.created", "equipment.changed"]
    change = Entry.objects.get(kind="equipment.changed")
    assert json.loads(change.payload)["changes"] == {
        "expiry_on": [(today + dt.timedelta(days=400)).isoformat(), new_expiry.isoformat()],
        "state": ["in_service", "out_of_service"],
    }


def test_a_removed_item_changes_no_more(apar: Any, operator_okut: User, today: dt.date) -> None:
    item = apar()
    services.change_equipment(
        actor=operator_okut, equipment_id=item.pk, changes={"state": "removed"}
    )
    before = state()
    with pytest.raises(Conflict) as refused:
        services.change_equipment(
            actor=operator_okut, equipment_id=item.pk, changes={"state": "in_service"}
        )
    assert refused.value.code == "equipment_removed"
    assert state() == before


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"expiry_on": "before-installation"}, "equipment_expiry_before_installation"),
        ({"zone": "other-site"}, "zone_unknown"),
        ({"responsible": "other-region"}, "responsible_out_of_scope"),
        ({"size_kg": Decimal("-1")}, "equipment_size_invalid"),
        ({"kind": "water_pump"}, "equipment_field_unchangeable"),
        ({"site": "other-site"}, "equipment_field_unchangeable"),
    ],
)
def test_a_bad_change_is_refused_and_nothing_changes(
    apar: Any,
    operator_okut: User,
    kpu_oku: User,
    world: World,
    changes: dict[str, Any],
    code: str,
) -> None:
    item = apar()
    named = {
        "before-installation": item.installed_on - dt.timedelta(days=1),
        "other-site": Zone.objects.get(site=world.warehouse_oku).pk,
        "other-region": kpu_oku.pk,
    }
    values = {k: named.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}
    before = state()
    with pytest.raises(InvalidInput) as refused:
        services.change_equipment(actor=operator_okut, equipment_id=item.pk, changes=values)
    assert refused.value.code == code
    assert state() == before

"""Use cases of safety equipment: add an item, change it, record a service, and the sweep
that reminds before its dates pass and raises an alarm once they have.

Each change, its ledger entry and the alarm it raises or clears commit together. Creating
calls are idempotent on the client-sent id: the same call again returns the first row, the
same id with other data is ``409 id_reused``."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from siaga.accounts.choices import Role
from siaga.accounts.models import Membership, User
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.alarms import services as alarms
from siaga.alarms.choices import SEVERITY_RANK, AlarmSeverity
from siaga.alarms.models import Alarm
from siaga.core import i18n
from siaga.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from siaga.core.idempotency import Created, replay_or_conflict
from siaga.core.ids import uuid7
from siaga.incidents.services import acting_unit
from siaga.ledger import services as ledger
from siaga.notify import services as notify
from siaga.regions.codes import covering_codes
from siaga.safety import selectors
from siaga.safety.choices import (
    ALARM_EXPIRED,
    ALARM_SERVICE_OVERDUE,
    ALARM_SOURCE,
    DueKind,
    EquipmentState,
    ServiceWork,
)
from siaga.safety.models import Equipment, Reminder, ServiceRecord
from siaga.safety.rules import check_date_range, check_equipment, site_today
from siaga.sites.models import Site, Zone

logger = logging.getLogger("siaga.safety")

# The fields a change may set (the site and the kind of an item never change: a new item).
CHANGEABLE = (
    "zone",
    "variant",
    "size_kg",
    "serial",
    "location",
    "installed_on",
    "expiry_on",
    "next_service_on",
    "responsible",
    "state",
)


# The fields an item cannot be without.
REQUIRED = ("installed_on", "responsible", "state")


def _value(value: Any) -> Any:
    """A field's value as the ledger writes it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.date | Decimal | uuid.UUID):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, User):
        return value.username
    return str(getattr(value, "pk", value))


def _snapshot(item: Equipment) -> dict[str, Any]:
    return {
        "site": str(item.site_id),
        "zone": str(item.zone_id) if item.zone_id else None,
        "kind": item.kind,
        "variant": item.variant,
        "size_kg": _value(item.size_kg),
        "serial": item.serial,
        "location": item.location,
        "installed_on": _value(item.installed_on),
        "expiry_on": _value(item.expiry_on),
        "next_service_on": _value(item.next_service_on),
        "responsible": item.responsible.username,
        "state": item.state,
    }


def _append(item: Equipment, verb: str, actor: User | None, **payload: Any) -> None:
    ledger.append(
        kind=f"equipment.{verb}",
        subject=item,
        actor=actor,
        unit=acting_unit(actor, item.site.region_id),
        region=item.site.region_id,
        id=payload.pop("entry_id", None),
        payload={"site": str(item.site_id), "kind": item.kind, **payload},
    )


def _site(actor: User, site_id: uuid.UUID) -> Site:
    site = Site.objects.for_user(actor, Action.VIEW).filter(pk=site_id).first()
    if site is None:
        # No detail: the answer must not even echo which site of another region was aimed at.
        raise InvalidInput("site_unknown", _("No such site in your scope."))
    return site


def _zone(site: Site, zone_id: uuid.UUID | None) -> Zone | None:
    if zone_id is None:
        return None
    zone = Zone.objects.filter(pk=zone_id, site=site).first()
    if zone is None:
        raise InvalidInput("zone_unknown", _("No such zone at this site."))
    return zone


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise InvalidInput(
            "equipment_size_invalid", _("The size is not a number."), detail={"field": "size_kg"}
        ) from None


def _responsible(responsible_id: int | None) -> User | None:
    if responsible_id is None:
        return None
    return User.objects.filter(pk=responsible_id).first()


def _allowed(actor: User, action: str, site: Site) -> None:
    if not user_can(actor, action, site.region_id):
        raise PermissionDenied(
            "safety_not_allowed",
            _("Your role may not do this to this site's safety equipment."),
            detail={"action": action},
        )


def visible_equipment(actor: User, equipment_id: uuid.UUID, *, lock: bool = False) -> Equipment:
    items = Equipment.objects.for_user(actor, Action.VIEW).select_related(
        "site", "zone", "responsible"
    )
    if lock:
        items = items.select_for_update(of=("self",))
    item = items.filter(pk=equipment_id).first()
    if item is None:
        raise NotFound(
            "equipment_not_found",
            _("No such safety equipment."),
            detail={"equipment": str(equipment_id)},
        )
    return item


# ---------------------------------------------------------------------------------------------
# Adding and changing an item


def add_equipment(
    *,
    actor: User,
    site_id: uuid.UUID,
    kind: str,
    installed_on: dt.date,
    responsible_id: int | None,
    id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
    variant: str = "",
    size_kg: Decimal | None = None,
    serial: str = "",
    location: str = "",
    expiry_on: dt.date | None = None,
    next_service_on: dt.date | None = None,
    state: str = EquipmentState.IN_SERVICE,
    now: dt.datetime | None = None,
) -> Created[Equipment]:
    site = _site(actor, site_id)
    _allowed(actor, Action.MANAGE_SAFETY_EQUIPMENT, site)
    zone = _zone(site, zone_id)
    item = Equipment(
        id=id or uuid7(),
        site=site,
        zone=zone,
        kind=kind,
        variant=variant or "",
        size_kg=_decimal(size_kg),
        serial=" ".join((serial or "").split()),
        location=" ".join((location or "").split()),
        installed_on=installed_on,
        expiry_on=expiry_on,
        next_service_on=next_service_on,
        responsible=_responsible(responsible_id),
        state=state,
    )
    today = site_today(site, now)
    check_equipment(item, today=today)
    fields = {
        "site_id": site.pk,
        "zone_id": zone.pk if zone else None,
        "kind": item.kind,
        "variant": item.variant,
        "size_kg": item.size_kg,
        "serial": item.serial,
        "location": item.location,
        "installed_on": item.installed_on,
        "expiry_on": item.expiry_on,
        "next_service_on": item.next_service_on,
        "responsible_id": item.responsible.pk,
        "state": item.state,
    }
    with transaction.atomic():
        existing = Equipment.objects.select_for_update().filter(pk=item.pk).first()
        if existing is not None:
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        _serial_free(item)
        try:
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:
            # Two retries raced and the other won: the same data is the same outcome.
            existing = Equipment.objects.filter(pk=item.pk).first()
            if existing is None:
                raise
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        _append(item, "created", actor, **_snapshot(item))
        reconcile_alarm(item, today=today, actor=actor, now=now)
    return Created(item, created=True)


def _serial_free(item: Equipment) -> None:
    if not item.serial:
        return
    taken = Equipment.objects.filter(site_id=item.site_id, serial=item.serial).exclude(pk=item.pk)
    if taken.exists():
        raise Conflict(
            "equipment_serial_taken",
            _("Another item at this site already has this serial number."),
            detail={"serial": item.serial},
        )


def change_equipment(
    *,
    actor: User,
    equipment_id: uuid.UUID,
    changes: dict[str, Any],
    now: dt.datetime | None = None,
) -> Equipment:
    """Set the given fields (``CHANGEABLE``; ``zone`` and ``responsible`` by id). The same
    change again changes nothing and writes nothing. A removed item changes no more."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise InvalidInput(
            "equipment_field_unchangeable",
            _("These fields cannot be changed: add a new item instead."),
            detail={"fields": unknown},
        )
    emptied = sorted(f for f in REQUIRED if f in changes and changes[f] is None)
    if emptied:
        raise InvalidInput(
            "equipment_field_required",
            _("These fields cannot be emptied."),
            detail={"fields": emptied},
        )
    with transaction.atomic():
        item = visible_equipment(actor, equipment_id, lock=True)
        _allowed(actor, Action.MANAGE_SAFETY_EQUIPMENT, item.site)
        if item.state == EquipmentState.REMOVED:
            raise Conflict(
                "equipment_removed",
                _("This item was removed; it changes no more."),
                detail={"equipment": str(item.pk)},
            )
        before = _snapshot(item)
        for field, value in changes.items():
            if field == "zone":
                item.zone = _zone(item.site, value)
            elif field == "responsible":
                item.responsible = _responsible(value)  # type: ignore[assignment]
            elif field == "size_kg":
                item.size_kg = _decimal(value)
            elif field in ("serial", "location", "variant"):
                setattr(item, field, " ".join((value or "").split()))
            else:
                setattr(item, field, value)
        today = site_today(item.site, now)
        check_equipment(item, today=today)
        after = _snapshot(item)
        changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if not changed:
            return item
        _serial_free(item)
        item.save()
        _append(item, "changed", actor, changes=changed)
        reconcile_alarm(item, today=today, actor=actor, now=now)
    return item


# ---------------------------------------------------------------------------------------------
# Services


def record_service(
    *,
    actor: User,
    equipment_id: uuid.UUID,
    performed_on: dt.date,
    work: str,
    id: uuid.UUID | None = None,
    notes: str = "",
    performed_by: str = "",
    next_service_on: dt.date | None = None,
    expiry_on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Created[ServiceRecord]:
    """Record a service. The latest service (by its date) sets the item's next service date,
    and its expiry where a new one is given; an alarm about a date no longer passed clears."""
    record_id = id or uuid7()
    with transaction.atomic():
        item = visible_equipment(actor, equipment_id, lock=True)
        _allowed(actor, Action.SERVICE_SAFETY_EQUIPMENT, item.site)
        fields: dict[str, Any] = {
            "equipment_id": item.pk,
            "performed_on": performed_on,
            "work": work,
            "notes": (notes or "").strip(),
            "performed_by": " ".join((performed_by or "").split()),
            "next_service_on": next_service_on,
            "expiry_on": expiry_on,
        }
        existing = ServiceRecord.objects.filter(pk=record_id).first()
        if existing is not None:
            replay_or_conflict(existing, fields)
            return Created(existing, created=False)
        if item.state == EquipmentState.REMOVED:
            raise Conflict(
                "equipment_removed",
                _("This item was removed; it is serviced no more."),
                detail={"equipment": str(item.pk)},
            )
        today = site_today(item.site, now)
        _check_service(item, today=today, **fields)
        latest = item.services.order_by("-performed_on").values_list("performed_on", flat=True)
        newest = latest.first()
        moves = newest is None or performed_on >= newest
        record = ServiceRecord.objects.create(id=record_id, recorded_by=actor, **fields)
        moved: dict[str, Any] = {}
        if moves and next_service_on is not None and next_service_on != item.next_service_on:
            moved["next_service_on"] = [_value(item.next_service_on), _value(next_service_on)]
            item.next_service_on = next_service_on
        if moves and expiry_on is not None and expiry_on != item.expiry_on:
            moved["expiry_on"] = [_value(item.expiry_on), _value(expiry_on)]
            item.expiry_on = expiry_on
        if moved:
            item.save(update_fields=[*moved, "updated_at"])
        _append(
            item,
            "serviced",
            actor,
            entry_id=record.pk,
            service=str(record.pk),
            performed_on=_value(performed_on),
            work=work,
            notes=record.notes,
            performed_by=record.performed_by,
            next_service_on=_value(next_service_on),
            expiry_on=_value(expiry_on),
            moved=moved,
        )
        reconcile_alarm(item, today=today, actor=actor, now=now)
    return Created(record, created=True)


def _check_service(
    item: Equipment,
    *,
    today: dt.date,
    performed_on: dt.date,
    work: str,
    notes: str,
    next_service_on: dt.date | None,
    expiry_on: dt.date | None,
    **_ignored: Any,
) -> None:
    if work not in ServiceWork.values:
        raise InvalidInput(
            "service_work_unknown",
            _("Unknown kind of service work."),
            detail={"work": work, "allowed": list(ServiceWork.values)},
        )
    for field, value in (
        ("performed_on", performed_on),
        ("next_service_on", next_service_on),
        ("expiry_on", expiry_on),
    ):
        check_date_range(value, today, field=field)
    if performed_on > today:
        raise InvalidInput(
            "service_in_future",
            _("A service cannot be recorded before it is done: its date lies in the future."),
            detail={"field": "performed_on", "today": today.isoformat()},
        )
    if performed_on < item.installed_on:
        raise InvalidInput(
            "service_before_installation",
            _("The service date lies before the item was installed."),
            detail={"field": "performed_on", "installed_on": item.installed_on.isoformat()},
        )
    if len(notes) > 1000:
        raise InvalidInput(
            "service_notes_too_long", _("Notes hold at most 1000 characters."), detail=None
        )
    if next_service_on is None and item.next_service_on is not None:
        raise InvalidInput(
            "service_next_date_required",
            _("Give the next service date: this item is serviced periodically."),
            detail={"field": "next_service_on"},
        )
    if next_service_on is not None and next_service_on <= performed_on:
        raise InvalidInput(
            "service_next_date_not_after_service",
            _("The next service date must come after this service."),
            detail={"field": "next_service_on"},
        )
    if expiry_on is not None and expiry_on <= performed_on:
        raise InvalidInput(
            "service_expiry_not_after_service",
            _("The new expiry date must come after this service."),
            detail={"field": "expiry_on"},
        )


# ---------------------------------------------------------------------------------------------
# Alarms


def alarm_key(item: Equipment | uuid.UUID) -> str:
    return f"equipment:{getattr(item, 'pk', item)}"


def _alarm_message(item: Equipment, found: list[selectors.Due]) -> dict[str, Any]:
    parts: list[i18n.Text] = []
    for due in found:
        msgid = (
            gettext_noop("%(equipment)s expired on %(date)s.")
            if due.kind == DueKind.EXPIRY
            else gettext_noop("%(equipment)s was due for service on %(date)s.")
        )
        parts.append(i18n.text(msgid, equipment=item.text, date=due.on.isoformat()))
    if item.place_text:
        parts.append(item.place_text)
    return i18n.lines(*parts, sep=" ")


def reconcile_alarm(
    item: Equipment,
    *,
    today: dt.date | None = None,
    actor: User | None = None,
    now: dt.datetime | None = None,
) -> Alarm | None:
    """One alarm per item while one of its dates has passed: raised, worsened (from a
    service overdue to an expired item), or cleared once no date has passed or the item was
    removed. Called in the transaction of every change and by the sweep."""
    today = today or site_today(item.site, now)
    found = selectors.passed(item, today)
    key = alarm_key(item)
    if not found:
        alarms.clear_alarm(source=ALARM_SOURCE, key=key, actor=actor, now=now)
        return None
    expired = any(due.kind == DueKind.EXPIRY for due in found)
    severity = AlarmSeverity.MINOR if expired else AlarmSeverity.WARNING
    message = _alarm_message(item, found)
    active = Alarm.objects.filter(source=ALARM_SOURCE, key=key, active=True).first()
    if (
        active is not None
        and active.message_text == message
        and SEVERITY_RANK[severity] >= active.rank
    ):
        return active  # nothing new: the sweep does not count a repeat every round
    return alarms.raise_alarm(
        source=ALARM_SOURCE,
        key=key,
        kind=ALARM_EXPIRED if expired else ALARM_SERVICE_OVERDUE,
        site=item.site,
        zone=item.zone,
        severity=severity,
        message=message,
        evidence=[{"type": "safety.equipment", "id": str(item.pk), "label": item.display}],
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Reminders and the sweep


def remind_steps() -> list[int]:
    """``SIAGA_SAFETY_REMIND_DAYS``, largest first: 30, 7."""
    return sorted(set(settings.SAFETY_REMIND_DAYS), reverse=True)


def step_for(days_left: int, steps: list[int]) -> int | None:
    """The reminder due with ``days_left`` to go: the nearest step already reached (an item
    added 5 days before its date gets the 7-day reminder, never the 30-day one after it)."""
    if days_left < 0:
        return None
    reached = [step for step in steps if days_left <= step]
    return min(reached) if reached else None


def reminder_recipients(item: Equipment) -> list[User]:
    """The responsible officer, and the KPU logistics operators whose units cover the site."""
    operators = Membership.objects.filter(
        active=True,
        role=Role.KPU_OPERATOR,
        user__is_active=True,
        unit__region_id__in=covering_codes(item.site.region_id),
    ).values("user_id")
    users = User.objects.filter(Q(pk=item.responsible_id) | Q(pk__in=operators), is_active=True)
    return list(users.order_by("pk"))


def _remind(item: Equipment, due: selectors.Due, step: int, now: dt.datetime) -> Reminder | None:
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(
                equipment=item, due=due.kind, due_on=due.on, step=step, sent_at=now
            )
    except IntegrityError:
        return None  # sent already (by another worker, or an earlier round)
    if due.kind == DueKind.EXPIRY:
        title = (
            i18n.text(
                gettext_noop("[SIAGA] %(equipment)s expires today (%(date)s)"),
                equipment=item.text,
                date=due.on.isoformat(),
            )
            if due.days == 0
            else i18n.ngettext(
                "[SIAGA] %(equipment)s expires in %(count)s day (%(date)s)",
                "[SIAGA] %(equipment)s expires in %(count)s days (%(date)s)",
                due.days,
                equipment=item.text,
                count=due.days,
                date=due.on.isoformat(),
            )
        )
    else:
        title = (
            i18n.text(
                gettext_noop("[SIAGA] %(equipment)s is due for service today (%(date)s)"),
                equipment=item.text,
                date=due.on.isoformat(),
            )
            if due.days == 0
            else i18n.ngettext(
                "[SIAGA] %(equipment)s is due for service in %(count)s day (%(date)s)",
                "[SIAGA] %(equipment)s is due for service in %(count)s days (%(date)s)",
                due.days,
                equipment=item.text,
                count=due.days,
                date=due.on.isoformat(),
            )
        )
    body = i18n.lines(
        " — ".join(p for p in (item.site.name, item.place_text) if p),
        i18n.text(
            gettext_noop("Responsible officer: %(name)s."), name=item.responsible.display_name
        ),
        i18n.text(
            gettext_noop("Record the service or the new expiry date on the site's safety page.")
        ),
    )
    url = reverse("safety:site", kwargs={"site_id": item.site_id})
    recipients = reminder_recipients(item)
    for user in recipients:
        notify.notify_user(
            user,
            kind="safety.reminder",
            title=title,
            body=body,
            url=url,
            data={"equipment": str(item.pk), "due": due.kind, "due_on": due.on.isoformat()},
            dedup_key=f"safety:{item.pk}:{due.kind}:{due.on.isoformat()}:{step}",
            group_key=f"safety:{item.pk}",
            about=("safety.equipment", str(item.pk)),
        )
    reminder.told = len(recipients)
    reminder.save(update_fields=["told"])
    _append(
        item,
        "reminded",
        None,
        due=due.kind,
        due_on=due.on.isoformat(),
        step=step,
        told=len(recipients),
    )
    return reminder


@dataclass
class Swept:
    reminded: int = 0
    alarmed: int = 0
    failed: int = 0


def sweep(now: dt.datetime | None = None) -> Swept:
    """The worker's periodic job (``safety.sweep``): reminders ``SIAGA_SAFETY_REMIND_DAYS``
    before each date, once per item × date × step; an alarm for each item whose date has
    passed; alarms cleared for items no longer due. Each item in its own transaction: one
    that fails is logged and tried again next round, the rest go on."""
    now = now or timezone.now()
    steps = remind_steps()
    latest = now.date() + dt.timedelta(days=(steps[0] if steps else 0) + 1)
    due_ids = set(
        selectors.possibly_due(Equipment.objects.all(), latest).values_list("pk", flat=True)
    )
    alarmed_keys = Alarm.objects.filter(source=ALARM_SOURCE, active=True).values_list(
        "key", flat=True
    )
    alarmed_ids: set[uuid.UUID] = set()
    for key in alarmed_keys:
        try:
            alarmed_ids.add(uuid.UUID(key.removeprefix("equipment:")))
        except ValueError:
            continue
    result = Swept()
    for item_id in sorted(due_ids | alarmed_ids):
        try:
            with transaction.atomic():
                result.reminded += _sweep_one(item_id, steps, now)
                result.alarmed += Alarm.objects.filter(
                    source=ALARM_SOURCE, key=alarm_key(item_id), active=True
                ).count()
        except Exception:  # one item's trouble must not stop the others' reminders
            logger.exception("safety sweep failed for equipment %s", item_id)
            result.failed += 1
    return result


def _sweep_one(item_id: uuid.UUID, steps: list[int], now: dt.datetime) -> int:
    item = (
        Equipment.objects.select_for_update(of=("self",))
        .select_related("site", "zone", "responsible")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        alarms.clear_alarm(source=ALARM_SOURCE, key=alarm_key(item_id), now=now)
        return 0
    today = site_today(item.site, now)
    sent = 0
    for due in selectors.dues(item, today):
        step = step_for(due.days, steps)
        if step is not None and _remind(item, due, step, now) is not None:
            sent += 1
    reconcile_alarm(item, today=today, now=now)
    return sent

"""The worker's sweep: a reminder N days before each date (30 and 7 by default), exactly once
per item × date × step, to the responsible officer and the site's KPU logistics operators in
their language; an alarm once a date has passed, cleared by a service or a new expiry date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from siaga.accounts.models import User
from siaga.alarms.models import Alarm
from siaga.core import i18n
from siaga.core.jobs import periodic_jobs
from siaga.ledger.models import Entry
from siaga.notify.choices import Channel
from siaga.notify.models import Message
from siaga.safety import services
from siaga.safety.models import Reminder
from tests.conftest import World

pytestmark = pytest.mark.django_db


def reminders(user: User) -> list[str]:
    return list(
        Message.objects.filter(user=user, kind="safety.reminder", channel=Channel.INAPP)
        .order_by("created_at")
        .values_list("dedup_key", flat=True)
    )


def days(n: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=n)


def test_the_sweep_is_a_periodic_job_of_the_worker() -> None:
    job = next(j for j in periodic_jobs() if j.name == "safety.sweep")
    assert job.func == "siaga.safety.services.sweep"
    assert job.seconds == 3600
    assert job.batch


def test_each_reminder_goes_once_per_step_then_the_alarm_raises_and_a_new_expiry_clears_it(
    apar: Any, operator_okut: User, guard_okut: User, today: dt.date
) -> None:
    item = apar(expiry_in=10, service_in=None, responsible_id=guard_okut.pk)
    expiry = (today + dt.timedelta(days=10)).isoformat()
    first = services.sweep(timezone.now())
    assert first.reminded == 1
    # The responsible guard and the KPU operator of OKU Timur, each once.
    step30 = f"safety:{item.pk}:expiry:{expiry}:30"
    assert reminders(guard_okut) == [step30]
    assert reminders(operator_okut) == [step30]
    for _again in range(3):
        assert services.sweep(timezone.now()).reminded == 0
    assert services.sweep(days(2)).reminded == 0  # 8 days left: still the 30-day step
    assert services.sweep(days(3)).reminded == 1  # 7 days left
    assert services.sweep(days(4)).reminded == 0
    step7 = f"safety:{item.pk}:expiry:{expiry}:7"
    assert reminders(guard_okut) == [step30, step7]
    assert reminders(operator_okut) == [step30, step7]
    assert list(
        Reminder.objects.filter(equipment=item).order_by("-step").values_list("step", "told")
    ) == [(30, 2), (7, 2)]
    assert Entry.objects.filter(kind="equipment.reminded", subject_id=str(item.pk)).count() == 2
    assert not Alarm.objects.filter(source="safety").exists()

    # The day after the expiry date: one alarm, however often the sweep runs.
    for _round in range(3):
        swept = services.sweep(days(11))
        assert (swept.reminded, swept.alarmed) == (0, 1)
    alarm = Alarm.objects.get(source="safety", active=True)
    assert (alarm.key, alarm.kind, alarm.severity, alarm.repeats) == (
        f"equipment:{item.pk}",
        "equipment_expired",
        "minor",
        1,
    )
    assert alarm.site_id == item.site_id and alarm.zone_id == item.zone_id
    assert alarm.incident is None
    assert Entry.objects.filter(kind="alarm.raised", subject_id=str(alarm.pk)).count() == 1

    # The refilled APAR's new expiry date clears it.
    services.change_equipment(
        actor=operator_okut,
        equipment_id=item.pk,
        changes={"expiry_on": today + dt.timedelta(days=1800)},
        now=days(11),
    )
    alarm.refresh_from_db()
    assert not alarm.active
    assert alarm.cleared_by == operator_okut
    assert services.sweep(days(12)).alarmed == 0
    assert Alarm.objects.filter(source="safety").count() == 1


def test_an_item_added_five_days_before_its_date_gets_only_the_nearest_reminder(
    apar: Any, operator_okut: User, today: dt.date
) -> None:
    item = apar(expiry_in=None, service_in=5)
    assert services.sweep().reminded == 1
    assert reminders(operator_okut) == [
        f"safety:{item.pk}:service:{(today + dt.timedelta(days=5)).isoformat()}:7"
    ]
    assert services.sweep(days(1)).reminded == 0


@override_settings(SAFETY_REMIND_DAYS=[14, 3, 1])
def test_the_steps_are_a_setting(apar: Any, operator_okut: User) -> None:
    apar(expiry_in=None, service_in=20)
    assert services.sweep().reminded == 0
    assert services.sweep(days(6)).reminded == 1  # 14 left
    assert services.sweep(days(17)).reminded == 1  # 3 left
    assert services.sweep(days(19)).reminded == 1  # 1 left
    assert services.sweep(days(20)).reminded == 0  # due today: the 1-day step was sent
    assert len(reminders(operator_okut)) == 3


def test_a_service_record_clears_the_overdue_service_alarm(
    apar: Any, guard_okut: User, today: dt.date
) -> None:
    item = apar(expiry_in=400, service_in=1)
    services.sweep(days(2))
    alarm = Alarm.objects.get(source="safety", active=True)
    assert (alarm.kind, alarm.severity) == ("service_overdue", "warning")
    services.record_service(
        actor=guard_okut,
        equipment_id=item.pk,
        performed_on=today,
        work="inspection",
        next_service_on=today + dt.timedelta(days=180),
        now=days(2),
    )
    alarm.refresh_from_db()
    assert not alarm.active
    assert alarm.cleared_by == guard_okut
    cleared = Entry.objects.filter(kind="alarm.cleared", subject_id=str(alarm.pk))
    assert cleared.count() == 1


def test_an_expired_item_is_alarmed_at_once_and_a_later_overdue_service_worsens_nothing_twice(
    apar: Any, operator_okut: User, today: dt.date
) -> None:
    item = apar(
        installed_on=today - dt.timedelta(days=2000),
        expiry_in=-3,
        service_in=2,
    )
    alarm = Alarm.objects.get(source="safety", key=f"equipment:{item.pk}", active=True)
    assert (alarm.kind, alarm.severity) == ("equipment_expired", "minor")
    assert "expired on" in i18n.render(alarm.message_text, "en")
    services.sweep(days(3))  # the service date has passed too: the message says both
    alarm.refresh_from_db()
    english = i18n.render(alarm.message_text, "en")
    assert "expired on" in english and "was due for service on" in english
    assert (alarm.severity, alarm.repeats) == ("minor", 2)
    services.sweep(days(3))
    alarm.refresh_from_db()
    assert alarm.repeats == 2


def test_a_removed_item_is_reminded_no_more_and_its_alarm_clears(
    apar: Any, operator_okut: User, today: dt.date
) -> None:
    item = apar(expiry_in=400, service_in=1)
    services.sweep(days(2))
    assert Alarm.objects.filter(source="safety", active=True).count() == 1
    services.change_equipment(
        actor=operator_okut, equipment_id=item.pk, changes={"state": "removed"}, now=days(2)
    )
    assert not Alarm.objects.filter(source="safety", active=True).exists()
    before = Message.objects.count()
    assert services.sweep(days(3)).reminded == 0
    assert Message.objects.count() == before


def test_the_reminder_reads_in_each_recipients_language(
    apar: Any, operator_okut: User, guard_okut: User
) -> None:
    guard_okut.language = "en"
    guard_okut.save(update_fields=["language"])
    item = apar(expiry_in=10, service_in=None, responsible_id=guard_okut.pk)
    services.sweep()
    message = Message.objects.get(user=guard_okut, kind="safety.reminder", channel=Channel.INAPP)
    english = i18n.render(message.text["title"], "en")
    assert english.startswith("[SIAGA] Fire extinguisher (APAR) · Dry powder · 6 kg")
    assert "expires in 10 days" in english
    assert "Responsible officer: " in i18n.render(message.text["body"], "en")
    assert message.url == f"/keselamatan/{item.site_id}/"
    indonesian = Message.objects.get(
        user=operator_okut, kind="safety.reminder", channel=Channel.INAPP
    )
    assert indonesian.title == i18n.render(indonesian.text["title"], "id")


def test_one_failing_item_does_not_stop_the_others(
    apar: Any, operator_okut: User, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = apar(expiry_in=10, service_in=None)
    fine = apar(expiry_in=9, service_in=None)
    real = services.notify.notify_user

    def notify_user(user: Any, **kwargs: Any) -> Any:
        # The outbox (outside this app) fails for one item's messages only.
        if kwargs["data"]["equipment"] == str(broken.pk):
            raise RuntimeError("the outbox is full")
        return real(user, **kwargs)

    monkeypatch.setattr(services.notify, "notify_user", notify_user)
    swept = services.sweep()
    assert (swept.reminded, swept.failed) == (1, 1)
    assert Reminder.objects.filter(equipment=fine).count() == 1
    assert not Reminder.objects.filter(equipment=broken).exists()

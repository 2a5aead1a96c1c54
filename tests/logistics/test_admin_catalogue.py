"""The catalogue is data: an election's due days and an item's need rules are edited on the admin
pages, each change a ledger entry in the same transaction, a rule that could not be applied
refused on the form with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from siaga.accounts.models import User
from siaga.ledger.models import Entry
from siaga.logistics import services
from siaga.logistics.models import Election, ItemType, NeedRule
from siaga.logistics.needs import need_for_tps, rules_of

pytestmark = pytest.mark.django_db

ELECTION = "pemilu-2029"


@pytest.fixture(name="election")
def election_fixture(db: None) -> Election:
    return services.seed_catalogue(
        code=ELECTION, name="Pemilu 2029", voting_day=dt.date(2029, 2, 14)
    )


def item_form(item: ItemType, **rule_changes: str) -> dict[str, str]:
    """The item's change form as the admin posts it, its rules inline, ``rule_changes`` applied
    to its per-voter rule."""
    rules = list(item.rules.order_by("pk"))
    form = {
        "election": item.election_id,
        "code": item.code,
        "name": item.name,
        "category": item.category,
        "colour": item.colour,
        "unit": item.unit,
        "position": str(item.position),
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": str(len(rules)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    for n, rule in enumerate(rules):
        values = {
            "id": str(rule.pk),
            "item": str(item.pk),
            "basis": rule.basis,
            "quantity": str(rule.quantity),
            "reserve_percent": str(rule.reserve_percent),
            "district_level": str(rule.district_level),
            "excluded_regions": f"{rule.excluded_regions}".replace("'", '"'),
        }
        # The hidden initial value the admin renders for a field with a callable default.
        form[f"initial-rules-{n}-excluded_regions"] = values["excluded_regions"]
        if rule.basis == "per_voter":
            values.update(rule_changes)
        form.update({f"rules-{n}-{k}": v for k, v in values.items()})
    return form


def rules_now(item: ItemType) -> list[tuple[Any, ...]]:
    return list(
        NeedRule.objects.filter(item=item)
        .order_by("pk")
        .values_list("basis", "quantity", "reserve_percent", "excluded_regions")
    )


def test_a_rule_edited_on_the_admin_changes_the_need_and_is_on_the_ledger(
    client_for: Any, root: User, election: Election
) -> None:
    dpr = ItemType.objects.get(election=election, code="ss-dpr")
    assert NeedRule.objects.get(item=dpr, basis="per_voter").reserve_percent == Decimal(2)
    assert need_for_tps(rules_of(election), "16.08.01.1008", 250)[dpr.pk] == 255
    page = client_for(root).post(
        reverse("admin:logistics_itemtype_change", args=[dpr.pk]),
        item_form(dpr, reserve_percent="3"),
    )
    assert page.status_code == 302, page.content.decode()[:3000]
    assert need_for_tps(rules_of(election), "16.08.01.1008", 250)[dpr.pk] == 258  # 7.5 rounded up
    entry = Entry.objects.get(kind="needrule.changed")
    assert entry.actor == "root"
    assert '"reserve_percent":"3' in entry.payload


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"excluded_regions": '["99.99"]'}, "No such region: 99.99."),
        ({"excluded_regions": '"31"'}, "A list of region codes"),
        ({"reserve_percent": "150"}, "A reserve is at most 100 %."),
        ({"reserve_percent": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"quantity": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"district_level": "9"}, "A district is a region of level 1 to 4."),
    ],
)
def test_a_rule_that_could_not_apply_is_refused_and_nothing_is_written(
    client_for: Any, root: User, election: Election, change: dict[str, str], message: str
) -> None:
    dpr = ItemType.objects.get(election=election, code="ss-dpr")
    before, entries = rules_now(dpr), Entry.objects.count()
    client = client_for(root)
    client.cookies["django_language"] = "en"
    page = client.post(
        reverse("admin:logistics_itemtype_change", args=[dpr.pk]), item_form(dpr, **change)
    )
    assert page.status_code == 200  # the form again
    assert message in page.content.decode()
    assert rules_now(dpr) == before
    assert Entry.objects.count() == entries


def test_the_due_days_that_decide_lateness_are_edited_on_the_admin(
    client_for: Any, root: User, election: Election
) -> None:
    page = client_for(root).post(
        reverse("admin:logistics_election_change", args=[election.pk]),
        {
            "name": "Pemilu 2029",
            "voting_day": "2029-02-14",
            "ppk_due_days": "6",
            "pps_due_days": "3",
            "tps_due_days": "2",
        },
    )
    assert page.status_code == 302, page.content.decode()[:3000]
    election.refresh_from_db()
    assert election.due_date("tps") == dt.date(2029, 2, 12)
    assert election.due_date("ppk") == dt.date(2029, 2, 8)
    assert Entry.objects.filter(kind="election.changed", subject_id=ELECTION).count() == 1


def test_staff_without_the_permission_may_not_edit_rules(
    client_for: Any, election: Election
) -> None:
    clerk = User.objects.create(username="clerk", is_staff=True)
    dpr = ItemType.objects.get(election=election, code="ss-dpr")
    before, entries = rules_now(dpr), Entry.objects.count()
    client = client_for(clerk)
    assert client.get(reverse("admin:logistics_itemtype_changelist")).status_code == 403
    page = client.post(
        reverse("admin:logistics_itemtype_change", args=[dpr.pk]),
        item_form(dpr, reserve_percent="9"),
    )
    assert page.status_code == 403
    assert rules_now(dpr) == before
    assert Entry.objects.count() == entries

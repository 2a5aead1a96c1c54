"""The gate's one-query read of a pass or visit gives the same objects the ORM would."""

from __future__ import annotations

import io

import pytest
from django.db.models import Model

from siaga.access import services
from siaga.access.models import SiteRules, StandingPass, Visit
from siaga.accounts.models import User
from tests.access.conftest import Gate, open_all_day, png, visit_for

pytestmark = pytest.mark.django_db


def same_fields(read: Model, orm: Model, leave_out: tuple[str, ...] = ()) -> None:
    for field in type(orm)._meta.concrete_fields:
        if field.name in leave_out:
            continue
        assert getattr(read, field.attname) == getattr(orm, field.attname), field.name


def test_a_pass_read_by_badge_matches_the_orm(gate: Gate, guard_okut: User) -> None:
    open_all_day(gate.site)
    issued = gate.operator_pass
    services.set_visitor_photo(
        actor=guard_okut, visitor_id=issued.visitor_id, photo=io.BytesIO(png())
    )
    _visit, read = services._credential(None, issued.qr_payload)
    assert isinstance(read, StandingPass)
    orm = StandingPass.objects.select_related("visitor", "site__access_rules").get(pk=issued.pk)
    same_fields(read, orm)
    same_fields(read.visitor, orm.visitor, leave_out=("photo",))
    same_fields(read.site, orm.site)
    rules = services.rules_of(read.site)
    assert not rules._state.adding
    same_fields(rules, orm.site.access_rules)
    # The photo was left out of the read, not lost: it loads when asked for.
    assert "photo" in read.visitor.get_deferred_fields()
    assert read.visitor.photo == orm.visitor.photo != b""


def test_a_visit_read_on_a_site_without_rules_gets_the_defaults(
    gate: Gate, operator_okut: User
) -> None:
    visit = visit_for(gate, operator_okut)
    SiteRules.objects.filter(site=gate.site).delete()
    read, _pass = services._credential(visit.pk, None)
    assert isinstance(read, Visit)
    orm = Visit.objects.select_related("visitor", "site").get(pk=visit.pk)
    same_fields(read, orm)
    rules = services.rules_of(read.site)
    assert rules._state.adding  # the unsaved defaults, not a row
    assert not SiteRules.objects.filter(site=gate.site).exists()
    assert rules.two_person_rule == SiteRules().two_person_rule
    same_fields(read.visitor, orm.visitor, leave_out=("photo",))
    same_fields(read.site, orm.site)
    assert read.planned_start == orm.planned_start and read.planned_start.tzinfo is not None

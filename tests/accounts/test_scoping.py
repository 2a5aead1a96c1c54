from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from siaga.accounts.choices import Role
from siaga.accounts.models import AgencyUnit, Membership, User
from siaga.accounts.permissions import ROLE_ACTIONS, Action, role_allows
from siaga.accounts.scoping import scope_roots, user_can
from siaga.accounts.services import add_membership
from siaga.core.errors import Conflict, InvalidInput, PermissionDenied
from siaga.sites.models import Site, Zone
from tests.conftest import World

pytestmark = pytest.mark.django_db


def codes(queryset: object) -> list[str]:
    return sorted(queryset.values_list("code", flat=True))  # type: ignore[attr-defined]


def test_each_persona_sees_only_its_kabupaten(
    world: World, guard_okut: User, bawaslu_okut: User, kpu_oku: User
) -> None:
    assert codes(Site.objects.for_user(guard_okut, Action.VIEW)) == ["GUDANG-16.08"]
    assert codes(Site.objects.for_user(bawaslu_okut, Action.VIEW)) == ["GUDANG-16.08"]
    assert codes(Site.objects.for_user(kpu_oku, Action.VIEW)) == ["GUDANG-16.01"]
    zones = Zone.objects.for_user(kpu_oku, Action.VIEW)
    assert list(zones.values_list("site__code", flat=True)) == ["GUDANG-16.01"]


def test_superuser_sees_all_and_anonymous_nothing(world: World, root: User) -> None:
    assert codes(Site.objects.for_user(root, Action.MANAGE_MASTER_DATA)) == [
        "GUDANG-16.01",
        "GUDANG-16.08",
    ]
    assert Site.objects.for_user(AnonymousUser(), Action.VIEW).count() == 0
    assert Site.objects.for_user(None, Action.VIEW).count() == 0


def test_action_not_granted_by_role_sees_nothing(
    world: World, bawaslu_okut: User, guard_okut: User
) -> None:
    assert Site.objects.for_user(bawaslu_okut, Action.MANAGE_MASTER_DATA).count() == 0
    assert Site.objects.for_user(guard_okut, Action.RECORD_LOGISTICS).count() == 0


def test_bawaslu_reads_everything_and_changes_nothing_but_findings() -> None:
    assert ROLE_ACTIONS[Role.BAWASLU_SUPERVISOR] == {Action.VIEW, Action.FILE_FINDING}
    assert not any(
        role_allows(r, Action.FILE_FINDING) for r in Role if r != Role.BAWASLU_SUPERVISOR
    )


def test_every_role_can_view() -> None:
    assert all(role_allows(role, Action.VIEW) for role in Role)


def test_deactivated_user_and_membership_see_nothing(world: World, guard_okut: User) -> None:
    Membership.objects.filter(user=guard_okut).update(active=False)
    fresh = User.objects.get(pk=guard_okut.pk)
    assert scope_roots(fresh, Action.VIEW) == frozenset()
    assert Site.objects.for_user(fresh, Action.VIEW).count() == 0


def test_scope_covers_the_subtree_only(operator_okut: User) -> None:
    assert user_can(operator_okut, Action.VIEW, "16.08")
    assert user_can(operator_okut, Action.VIEW, "16.08.01.1008")
    assert not user_can(operator_okut, Action.VIEW, "16.01.14")
    assert not user_can(operator_okut, Action.VIEW, "16")
    assert not user_can(operator_okut, Action.VIEW, "16.081")


def test_a_kecamatan_unit_does_not_see_its_kabupaten(world: World) -> None:
    unit = AgencyUnit.objects.create(
        agency=world.units["kpu:16.08"].agency, region_id="16.08.02", name="PPK Buay Madang"
    )
    user = User.objects.create_user("ppk.buaymadang", password="x")
    add_membership(actor=None, user=user, unit=unit, role=Role.VIEWER)
    assert Site.objects.for_user(user, Action.VIEW).count() == 0
    assert user_can(user, Action.VIEW, "16.08.02.2001")
    assert not user_can(user, Action.VIEW, "16.08.01.1008")


def test_role_must_exist_in_the_agency(world: World) -> None:
    user = User.objects.create_user("someone", password="x")
    with pytest.raises(InvalidInput) as caught:
        add_membership(actor=None, user=user, unit=world.units["bawaslu:16.08"], role=Role.GUARD)
    assert caught.value.code == "role_not_in_agency"
    assert not Membership.objects.filter(user=user).exists()


def test_second_role_in_the_same_unit_is_a_conflict(world: World, guard_okut: User) -> None:
    with pytest.raises(Conflict) as caught:
        add_membership(
            actor=None, user=guard_okut, unit=world.units["polri:16.08"], role=Role.POLICE_COMMANDER
        )
    assert caught.value.code == "membership_exists"
    assert list(Membership.objects.filter(user=guard_okut).values_list("role", flat=True)) == [
        "guard"
    ]


def test_admin_of_another_kabupaten_cannot_grant_roles_here(
    world: World, admin_oku: User, admin_okut: User
) -> None:
    user = User.objects.create_user("newguard", password="x")
    with pytest.raises(PermissionDenied):
        add_membership(actor=admin_oku, user=user, unit=world.units["polri:16.08"], role=Role.GUARD)
    assert not Membership.objects.filter(user=user).exists()
    add_membership(actor=admin_okut, user=user, unit=world.units["polri:16.08"], role=Role.GUARD)
    assert Membership.objects.filter(user=user, role="guard").count() == 1


def test_permission_docs_follow_the_table() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "permissions.md").read_text()
    for action in Action:
        assert f"`{action.value}`" in text, action
    for role in Role:
        line = next(x for x in text.splitlines() if x.startswith(f"| `{role.value}` |"))
        if role == Role.ADMIN:
            continue
        listed = {a for a in Action if f"`{a.value}`" in line.split("|")[3]}
        assert listed == ROLE_ACTIONS[role], role

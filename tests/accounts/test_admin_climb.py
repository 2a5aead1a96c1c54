"""The admin cannot be climbed: finding 4 of issue 21."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from siaga.accounts.models import ApiToken, Membership, User
from siaga.accounts.services import issue_api_token
from siaga.ledger.models import Entry
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _staff_with(user: User, *codenames: str) -> User:
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def _user_form(user: User, **extra: Any) -> dict[str, Any]:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": "",
        "email": "",
        "is_active": "on",
        "phone": "",
        "language": user.language,
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    data.update(extra)
    return data


def _snapshot(user: User) -> tuple[Any, ...]:
    user.refresh_from_db()
    return (
        user.is_superuser,
        user.is_staff,
        sorted(user.groups.values_list("name", flat=True)),
        sorted(user.user_permissions.values_list("codename", flat=True)),
        Membership.objects.count(),
        Entry.objects.count(),
    )


@pytest.mark.parametrize(
    "grant",
    [
        {"is_superuser": "on", "is_staff": "on"},
        {"is_staff": "on"},
        {"groups": "GROUP"},
        {"user_permissions": "PERM"},
    ],
)
def test_staff_with_change_user_cannot_grant_himself_rights(
    client_for: Any, admin_okut: User, world: World, grant: dict[str, str]
) -> None:
    staff = _staff_with(admin_okut, "change_user", "view_user")
    group = Group.objects.create(name="everything")
    group.permissions.set(Permission.objects.all())
    perm = Permission.objects.get(codename="add_membership")
    values = {
        k: str(group.pk) if v == "GROUP" else str(perm.pk) if v == "PERM" else v
        for k, v in grant.items()
    }
    before = _snapshot(staff)
    response = client_for(staff).post(
        reverse("admin:accounts_user_change", args=[staff.pk]),
        _user_form(staff, **{"is_staff": "on", **values}),
    )
    assert response.status_code == 403
    assert _snapshot(staff) == before


def test_staff_with_change_user_cannot_make_another_user_superuser(
    client_for: Any, admin_okut: User, guard_okut: User, world: World
) -> None:
    staff = _staff_with(admin_okut, "change_user", "view_user")
    before = _snapshot(guard_okut)
    response = client_for(staff).post(
        reverse("admin:accounts_user_change", args=[guard_okut.pk]),
        _user_form(guard_okut, is_superuser="on", is_staff="on"),
    )
    assert response.status_code == 403
    assert _snapshot(guard_okut) == before


def test_staff_does_not_see_the_privilege_fields_but_may_edit_the_rest(
    client_for: Any, admin_okut: User, guard_okut: User, world: World
) -> None:
    staff = _staff_with(admin_okut, "change_user", "view_user")
    client = client_for(staff)
    url = reverse("admin:accounts_user_change", args=[guard_okut.pk])
    page = client.get(url).content.decode()
    assert 'name="is_superuser"' not in page and 'name="groups"' not in page
    response = client.post(url, _user_form(guard_okut, first_name="Budi"))
    assert response.status_code == 302, response.content.decode()[:3000]
    guard_okut.refresh_from_db()
    assert (guard_okut.first_name, guard_okut.is_superuser, guard_okut.is_staff) == (
        "Budi",
        False,
        False,
    )


def test_staff_cannot_touch_a_superuser_or_reset_its_password(
    client_for: Any, admin_okut: User, root: User, world: World
) -> None:
    staff = _staff_with(admin_okut, "change_user", "view_user", "delete_user")
    client = client_for(staff)
    old_hash = User.objects.get(pk=root.pk).password
    response = client.post(
        f"/admin/accounts/user/{root.pk}/password/",
        {"password1": "a new long passphrase 42", "password2": "a new long passphrase 42"},
    )
    assert response.status_code == 403
    assert User.objects.get(pk=root.pk).password == old_hash
    delete = client.post(reverse("admin:accounts_user_delete", args=[root.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert User.objects.filter(pk=root.pk).exists()


def test_only_a_superuser_edits_groups(client_for: Any, admin_okut: User, world: World) -> None:
    staff = _staff_with(admin_okut, "change_group", "add_group", "view_group")
    group = Group.objects.create(name="readers")
    client = client_for(staff)
    perm = Permission.objects.get(codename="change_user")
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "readers", "permissions": [str(perm.pk)]},
    )
    assert response.status_code == 403
    assert list(group.permissions.all()) == []
    assert client.post(reverse("admin:auth_group_add"), {"name": "x"}).status_code == 403
    assert Group.objects.count() == 1


def test_superuser_grants_rights_and_the_ledger_says_so(
    client_for: Any, root: User, guard_okut: User, world: World
) -> None:
    group = Group.objects.create(name="gate supervisors")
    client = client_for(root)
    response = client.post(
        reverse("admin:accounts_user_change", args=[guard_okut.pk]),
        _user_form(guard_okut, is_staff="on", groups=[str(group.pk)]),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    guard_okut.refresh_from_db()
    assert guard_okut.is_staff is True
    assert list(guard_okut.groups.values_list("name", flat=True)) == ["gate supervisors"]
    entry = Entry.objects.get(kind="user.permissions_changed", subject_id=str(guard_okut.pk))
    assert json.loads(entry.payload)["changes"] == {"groups": "gate supervisors"}
    assert Entry.objects.filter(kind="user.changed", subject_id=str(guard_okut.pk)).exists()

    perm = Permission.objects.get(codename="view_user")
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "gate supervisors", "permissions": [str(perm.pk)]},
    )
    assert response.status_code == 302
    entry = Entry.objects.get(kind="group.permissions_changed", subject_id=str(group.pk))
    assert json.loads(entry.payload)["changes"] == {"permissions": str(perm)}


def test_admin_password_change_is_on_the_ledger_and_revokes_tokens(
    client_for: Any, root: User, guard_okut: User, world: World
) -> None:
    token, _raw = issue_api_token(actor=guard_okut, name="phone")
    new = "a new long passphrase 42"
    response = client_for(root).post(
        f"/admin/accounts/user/{guard_okut.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert User.objects.get(pk=guard_okut.pk).check_password(new)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    entry = Entry.objects.get(kind="user.password_changed", subject_id=str(guard_okut.pk))
    assert entry.actor == "root"
    assert new not in str(entry.payload)
    assert json.loads(entry.payload)["changes"] == {"api_tokens_revoked": "1"}


def test_unit_admin_cannot_grant_a_membership_outside_his_subtree(
    client_for: Any, admin_oku: User, world: World
) -> None:
    staff = _staff_with(admin_oku, "add_membership", "change_membership", "view_membership")
    before = (Membership.objects.count(), Entry.objects.count())
    response = client_for(staff).post(
        reverse("admin:accounts_membership_add"),
        {
            "user": str(staff.pk),
            "unit": str(world.units["kpu:16.08"].pk),
            "role": "admin",
            "position": "",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "unit" in response.context["adminform"].form.errors
    assert (Membership.objects.count(), Entry.objects.count()) == before
    assert not Membership.objects.filter(user=staff, unit__region_id="16.08").exists()


def test_unit_admin_cannot_move_a_membership_of_his_to_another_kabupaten(
    client_for: Any, admin_oku: User, kpu_oku: User, world: World
) -> None:
    staff = _staff_with(admin_oku, "change_membership", "view_membership")
    membership = Membership.objects.get(user=kpu_oku)
    before = (Membership.objects.get(pk=membership.pk).unit_id, Entry.objects.count())
    response = client_for(staff).post(
        reverse("admin:accounts_membership_change", args=[membership.pk]),
        {
            "user": str(kpu_oku.pk),
            "unit": str(world.units["kpu:16.08"].pk),
            "role": "kpu_operator",
            "position": "",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "unit" in response.context["adminform"].form.errors
    assert (Membership.objects.get(pk=membership.pk).unit_id, Entry.objects.count()) == before


def test_unit_admin_grants_a_membership_in_his_own_unit_on_the_ledger(
    client_for: Any, admin_oku: User, world: World
) -> None:
    staff = _staff_with(admin_oku, "add_membership", "view_membership")
    newcomer = User.objects.create_user("baru.oku", password="x" * 16)
    response = client_for(staff).post(
        reverse("admin:accounts_membership_add"),
        {
            "user": str(newcomer.pk),
            "unit": str(world.units["kpu:16.01"].pk),
            "role": "kpu_operator",
            "position": "",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    membership = Membership.objects.get(user=newcomer)
    assert membership.unit == world.units["kpu:16.01"]
    assert Entry.objects.filter(kind="membership.created", subject_id=str(membership.pk)).exists()

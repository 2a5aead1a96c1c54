from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from siaga.accounts.models import User
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_every_master_data_admin_page_renders(client_for: Any, root: User, world: World) -> None:
    client = client_for(root)
    assert client.get(reverse("admin:index")).status_code == 200
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert changelist.status_code == 200, info
        if model_admin.has_add_permission(changelist.wsgi_request):
            assert client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200, info
        first = model._default_manager.first()
        if first is not None:
            change = client.get(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
            assert change.status_code == 200, info


def test_site_admin_search_and_autocomplete(client_for: Any, root: User, world: World) -> None:
    client = client_for(root)
    response = client.get(reverse("admin:sites_site_changelist"), {"q": "Martapura"})
    assert response.status_code == 200
    assert "GUDANG-16.08" in response.content.decode()


def test_people_without_staff_status_do_not_reach_the_admin(
    client_for: Any, admin_okut: User
) -> None:
    response = client_for(admin_okut).get(reverse("admin:sites_site_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_edits_of_master_data_leave_ledger_entries(
    client_for: Any, root: User, world: World
) -> None:
    from siaga.ledger.models import Entry
    from siaga.sites.models import Zone

    client = client_for(root)
    hall = world.hall_a_okut
    url = reverse("admin:sites_zone_change", args=[hall.pk])
    response = client.post(
        url, {"site": hall.site_id, "name": "Gudang A", "kind": "storage", "restricted": ""}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Zone.objects.get(pk=hall.pk).restricted is False
    entry = Entry.objects.get(kind="zone.changed", subject_id=str(hall.pk))
    assert entry.actor == "root"
    assert entry.region == "16.08.01.1008"
    assert '"restricted":"False"' in entry.payload
    delete = client.post(reverse("admin:sites_zone_delete", args=[hall.pk]), {"post": "yes"})
    assert delete.status_code == 302
    assert not Zone.objects.filter(pk=hall.pk).exists()
    assert Entry.objects.filter(kind="zone.deleted", subject_id=str(hall.pk)).count() == 1


def test_a_failed_admin_save_leaves_no_entry(client_for: Any, root: User, world: World) -> None:
    from siaga.ledger.models import Entry

    before = Entry.objects.count()
    response = client_for(root).post(
        reverse("admin:sites_zone_add"),
        {"site": world.warehouse_okut.pk, "name": "Gudang A", "kind": "storage"},
    )
    assert response.status_code == 200  # the form comes back: the name is taken
    assert Entry.objects.count() == before

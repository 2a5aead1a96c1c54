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

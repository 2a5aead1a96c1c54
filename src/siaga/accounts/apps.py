from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "siaga.accounts"
    label = "accounts"
    verbose_name = _("Agencies and accounts")

    def ready(self) -> None:
        from siaga.accounts import audit  # noqa: F401 - connects the sign-in record's receivers


class SiagaAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with SIAGA's site (behind the second factor) as ``admin.site``."""

    default = False  # named in INSTALLED_APPS; AccountsConfig stays this module's default
    default_site = "siaga.accounts.admin_site.SiagaAdminSite"

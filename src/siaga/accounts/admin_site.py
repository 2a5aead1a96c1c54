"""The admin site behind the second factor.

Staff always need one (``requires_second_factor``), so the sign-in middleware already keeps an
unverified staff session away; the site checks again itself (``is_verified``), and its own
login page hands over to SIAGA's, which has the throttle and the second-factor step.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode


class SiagaAdminSite(AdminSite):
    site_header = "SIAGA"
    site_title = "SIAGA"

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        verified = getattr(user, "is_verified", None)
        return bool(super().has_permission(request) and verified is not None and verified())

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        following = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        return HttpResponseRedirect(reverse("login") + "?" + urlencode({"next": following}))

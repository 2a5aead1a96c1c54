from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class LookupAnswer(models.TextChoices):
    FOUND = "found", _("found")
    NOT_FOUND = "not_found", _("not known here")
    THROTTLED = "throttled", _("throttled")


class LookupChannel(models.TextChoices):
    API = "api", _("API")
    WEB = "web", _("web page")
    EXPORT = "export", _("right of access (export)")

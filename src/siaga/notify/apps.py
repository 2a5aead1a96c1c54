from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from siaga.core.jobs import Loop


class NotifyConfig(AppConfig):
    name = "siaga.notify"
    label = "notify"
    verbose_name = _("Notifications")
    # The outbox: polled often, woken by this process's commits (siaga.notify.delivery).
    worker_loops = [
        Loop("notify.delivery", "siaga.notify.delivery.run", once="siaga.notify.delivery.run_once")
    ]

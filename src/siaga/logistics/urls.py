from __future__ import annotations

from django.urls import path

from siaga.logistics import views, views_custody

app_name = "logistics"
# Needs and reconciliation (views.py); handovers, receiving, packages, discrepancies and the
# printed BAST and labels (views_custody.py).
urlpatterns = [
    path("rekonsiliasi/", views.reconciliation, name="reconciliation"),
    path("kebutuhan/", views.needs_page, name="needs"),
    *views_custody.urlpatterns,
]

from __future__ import annotations

from django.urls import path

from siaga.logistics import (
    views,
    views_custody,
    views_operator,
    views_reseal,
    views_sorting,
    views_stock,
)

app_name = "logistics"
# Needs and reconciliation (views.py); the operator's receipt, packing and dispatch forms
# (views_operator.py); sortir-lipat and destruction (views_sorting.py); a package opened and
# resealed (views_reseal.py); stock and packages per site (views_stock.py); handovers,
# receiving, packages, discrepancies and the printed BAST and labels (views_custody.py).
urlpatterns = [
    path("rekonsiliasi/", views.reconciliation, name="reconciliation"),
    path("kebutuhan/", views.needs_page, name="needs"),
    # The operator's forms first: "custody/packages/new/" is not a package code.
    *views_operator.urlpatterns,
    *views_sorting.urlpatterns,
    *views_reseal.urlpatterns,
    *views_stock.urlpatterns,
    *views_custody.urlpatterns,
]

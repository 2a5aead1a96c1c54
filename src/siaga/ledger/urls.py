from __future__ import annotations

from django.urls import path

from siaga.ledger import views

app_name = "ledger"
urlpatterns = [
    path("", views.index, name="index"),
    path("entries/<int:seq>/", views.entry_detail, name="entry"),
]

from __future__ import annotations

from django.urls import path

from siaga.notify import views

app_name = "notify"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("badge/", views.badge, name="badge"),
    path("<uuid:message_id>/baca/", views.read, name="read"),
    path("baca-semua/", views.read_all, name="read-all"),
    path("gagal/", views.dead_letters, name="dead"),
    path("gagal/<uuid:message_id>/kirim-ulang/", views.retry, name="retry"),
    path("tujuan/", views.endpoint_add, name="endpoint-add"),
    path("tujuan/<uuid:endpoint_id>/hapus/", views.endpoint_remove, name="endpoint-remove"),
]

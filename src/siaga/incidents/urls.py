from __future__ import annotations

from django.urls import path

from siaga.incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("lapor/", views.report, name="report"),
    path("perlu-tanggapan/", views.acknowledgements, name="acknowledgements"),
    path("statistik/", views.stats, name="stats"),
    path("<uuid:incident_id>/", views.incident_detail, name="detail"),
    path("<uuid:incident_id>/terima/", views.acknowledge, name="acknowledge"),
    path("<uuid:incident_id>/tangani/", views.respond, name="respond"),
    path("<uuid:incident_id>/selesai/", views.resolve, name="resolve"),
    path("<uuid:incident_id>/tutup/", views.close, name="close"),
    path("<uuid:incident_id>/buka-kembali/", views.reopen, name="reopen"),
    path("<uuid:incident_id>/tugaskan/", views.assign, name="assign"),
    path("<uuid:incident_id>/komentar/", views.comment, name="comment"),
    path("<uuid:incident_id>/foto/", views.add_photo, name="photo"),
]

from __future__ import annotations

from django.urls import path

from siaga.alarms import views

app_name = "alarms"
urlpatterns = [
    path("", views.console, name="console"),
    path("<uuid:alarm_id>/terima/", views.acknowledge, name="acknowledge"),
    path("<uuid:alarm_id>/padamkan/", views.clear, name="clear"),
]

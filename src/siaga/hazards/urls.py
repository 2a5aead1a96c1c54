from __future__ import annotations

from django.urls import path

from siaga.hazards import views

app_name = "hazards"
urlpatterns = [
    path("sensor/<uuid:sensor_id>/", views.sensor_page, name="sensor"),
]

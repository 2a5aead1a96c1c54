from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


@login_required
def gate_home(request: HttpRequest) -> HttpResponse:
    return render(request, "access/gate/home.html", {})


urlpatterns = [path("", gate_home, name="gate")]

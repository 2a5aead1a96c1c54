"""A test-only URL configuration: SIAGA's URLs, plus a second ``SiagaAPI`` (the same class, so
the same handlers, renderer and declared errors) with routes that fail on purpose."""

from __future__ import annotations

import datetime as dt

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import Router, Schema

from siaga.api import SiagaAPI
from siaga.urls import handler500 as siaga_handler500
from siaga.urls import urlpatterns as siaga_urlpatterns


class Moment(Schema):
    at: dt.datetime


router = Router()


@router.get("/boom")
def boom(request: HttpRequest) -> None:
    raise RuntimeError("secret internals: /srv/siaga/settings.py line 42")


@router.get("/database-gone")
def database_gone(request: HttpRequest) -> None:
    raise OperationalError("database or disk is full")


@router.get("/naive", response=Moment)
def naive(request: HttpRequest) -> dict[str, dt.datetime]:
    return {"at": dt.datetime(2029, 2, 11, 23, 40)}  # naive on purpose


@router.get("/aware", response=Moment)
def aware(request: HttpRequest) -> dict[str, dt.datetime]:
    return {"at": dt.datetime(2029, 2, 11, 16, 40, tzinfo=dt.UTC)}


def boom_page(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a page that fails")


crash_api = SiagaAPI(title="crash", version="test", urls_namespace="crash-api", auth=None)
crash_api.add_router("", router)


def boom_beside_the_api(request: HttpRequest) -> HttpResponse:
    # A plain Django view under /api/, as a middleware's fault would be: not an operation.
    raise RuntimeError("a fault outside any operation")


def database_gone_beside_the_api(request: HttpRequest) -> HttpResponse:
    raise OperationalError("disk I/O error")


handler500 = siaga_handler500

urlpatterns = [
    path("api/test/", crash_api.urls),
    path("api/plain/boom", boom_beside_the_api),
    path("api/plain/database-gone", database_gone_beside_the_api),
    path("boom-page/", boom_page),
    *siaga_urlpatterns,
]

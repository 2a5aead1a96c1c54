"""What ``siaga worker`` runs beside the task queue, as each app declares it.

An app lists its work on its ``AppConfig``, so the worker imports no domain app:

* ``periodic_jobs``: :class:`Periodic` — a function called every so many seconds (a number,
  or the name of the setting that holds it). Each runs in its own thread: a slow job (a
  backup) never holds back a quick one (escalations).
* ``worker_loops``: :class:`Loop` — a function that runs until the ``threading.Event`` it is
  given is set (the notification outbox's delivery, and the MQTT and CCTV listeners to come).

Neither may let a transient failure end the worker: the supervisor (``siaga.core.supervisor``)
catches what a job or loop raises, waits with backoff and goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Periodic:
    """``func`` (a dotted path to a function taking no argument) every ``every`` seconds."""

    name: str
    func: str
    every: float | str
    #: Also run once by ``siaga worker --batch`` (after the queued tasks).
    batch: bool = False

    @property
    def seconds(self) -> float:
        value = getattr(settings, self.every) if isinstance(self.every, str) else self.every
        return max(0.1, float(value))

    def call(self) -> Any:
        return import_string(self.func)()


@dataclass(frozen=True)
class Loop:
    """``run`` (a dotted path to a function taking the stop event) until the worker stops;
    ``once`` (optional, no argument) is what ``siaga worker --batch`` does instead."""

    name: str
    run: str
    once: str = ""

    def target(self) -> Callable[[threading.Event], Any]:
        function: Callable[[threading.Event], Any] = import_string(self.run)
        return function

    def call_once(self) -> Any:
        return import_string(self.once)() if self.once else None


def periodic_jobs() -> list[Periodic]:
    """Every app's periodic jobs, in the order of INSTALLED_APPS."""
    found: list[Periodic] = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "periodic_jobs", ()))
    _unique(found)
    return found


def worker_loops() -> list[Loop]:
    found: list[Loop] = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "worker_loops", ()))
    _unique(found)
    return found


def _unique(items: list[Periodic] | list[Loop]) -> None:
    names = [item.name for item in items]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise RuntimeError(f"worker jobs declared twice: {', '.join(twice)}")

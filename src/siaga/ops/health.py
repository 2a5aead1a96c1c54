"""Is SIAGA ready to serve? Each check answers for one thing a user's write depends on.

``/readyz`` runs them all (503 when one fails), the operations watch raises a system alarm for
each that fails, and the operations page shows them with their detail. A check never raises:
whatever goes wrong while checking is that check failing.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from siaga.core import i18n
from siaga.core.models import WorkerHeartbeat

logger = logging.getLogger("siaga.ops")

CRITICAL, MAJOR = "critical", "major"


@dataclass
class Check:
    name: str
    ok: bool
    #: A translatable sentence (``siaga.core.i18n``): rendered in the reader's language.
    message: i18n.Text
    severity: str = MAJOR
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, *, detail: bool = True) -> dict[str, Any]:
        answer: dict[str, Any] = {"name": self.name, "ok": self.ok}
        if detail:
            answer |= {"message": i18n.render(self.message), "detail": self.detail}
        return answer


def database() -> Check:
    from siaga.ops.models import WriteProbe

    try:
        WriteProbe.objects.update_or_create(pk=1, defaults={"written_at": timezone.now()})
    except Exception as exc:
        return Check(
            "database",
            False,
            i18n.text(gettext_noop("The database takes no writes: %(error)s"), error=str(exc)),
            CRITICAL,
            {"error": f"{type(exc).__name__}: {exc}"[:300]},
        )
    return Check("database", True, i18n.text(gettext_noop("The database takes writes.")))


_migrated = False


def migrations() -> Check:
    global _migrated
    if not _migrated:  # once applied they stay applied: asked again only until they are
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:
            return Check(
                "migrations",
                False,
                i18n.text(
                    gettext_noop("The migrations could not be read: %(error)s"), error=str(exc)
                ),
                CRITICAL,
            )
        if plan:
            names = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
            return Check(
                "migrations",
                False,
                i18n.ngettext(
                    "%(count)s migration is not applied: run siaga migrate.",
                    "%(count)s migrations are not applied: run siaga migrate.",
                    len(names),
                    count=len(names),
                ),
                CRITICAL,
                {"pending": names[:20]},
            )
        _migrated = True
    return Check("migrations", True, i18n.text(gettext_noop("Every migration is applied.")))


def _watched_paths() -> dict[str, Path]:
    paths = {"home": Path(settings.SIAGA_HOME), "media": Path(settings.MEDIA_ROOT)}
    db = connections[DEFAULT_DB_ALIAS].settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        paths["database"] = Path(str(db["NAME"])).parent
    return paths


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk() -> Check:
    least = settings.READY_MIN_FREE_MB
    free = {}
    for name, path in _watched_paths().items():
        try:
            free[name] = shutil.disk_usage(_existing(path)).free // (1024 * 1024)
        except OSError as exc:
            free[name] = -1
            logger.warning("disk check of %s failed: %s", path, exc)
    low = {name: mb for name, mb in free.items() if mb < least}
    if low:
        worst = min(low.values())
        return Check(
            "disk",
            False,
            i18n.text(
                gettext_noop("Only %(free)s MB free where SIAGA writes (at least %(least)s MB)."),
                free=max(worst, 0),
                least=least,
            ),
            CRITICAL if worst < least / 4 else MAJOR,
            {"free_mb": free, "min_free_mb": least},
        )
    return Check(
        "disk",
        True,
        i18n.text(gettext_noop("Enough free disk space.")),
        detail={"free_mb": free, "min_free_mb": least},
    )


def workers(now: Any = None) -> Check:
    now = now or timezone.now()
    fresh = now - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)
    forgotten = now - timedelta(seconds=settings.WORKER_FORGET_SECONDS)
    rows = list(WorkerHeartbeat.objects.filter(Q(stopped_at__isnull=True), beat_at__gte=forgotten))
    alive = sorted(row.name for row in rows if row.beat_at >= fresh)
    lost = sorted(row.name for row in rows if row.beat_at < fresh)
    failing = sorted(
        f"{row.name}: {name}"
        for row in rows
        if row.beat_at >= fresh
        for name, part in (row.parts or {}).items()
        if not part.get("ok", True)
    )
    detail = {"alive": alive, "lost": lost, "failing": failing}
    if not alive:
        return Check(
            "workers",
            False,
            i18n.text(
                gettext_noop(
                    "No worker is running: notifications, escalations and checkpoints wait."
                )
            ),
            CRITICAL,
            detail,
        )
    if lost:
        return Check(
            "workers",
            False,
            i18n.text(
                gettext_noop("Worker %(names)s stopped sending its heartbeat."),
                names=", ".join(lost),
            ),
            MAJOR,
            detail,
        )
    return Check(
        "workers",
        True,
        i18n.ngettext(
            "%(count)s worker is running.",
            "%(count)s workers are running.",
            len(alive),
            count=len(alive),
        ),
        detail=detail,
    )


def outbox(now: Any = None) -> Check:
    from siaga.notify.choices import MessageState
    from siaga.notify.models import Message

    now = now or timezone.now()
    # Every message not yet delivered, a retry waiting for its next attempt included: its
    # reader has not been told. The worst a dead endpoint holds one is its retries (~1 h).
    waiting = Message.objects.filter(state=MessageState.PENDING).exclude(channel="inapp")
    oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    age = int((now - oldest).total_seconds()) if oldest else 0
    limit = settings.READY_OUTBOX_MAX_AGE_SECONDS
    detail = {"waiting": waiting.count(), "oldest_seconds": age, "limit_seconds": limit}
    if oldest is not None and age > limit:
        return Check(
            "outbox",
            False,
            i18n.text(
                gettext_noop("A notification due for %(minutes)s minutes is still not delivered."),
                minutes=age // 60,
            ),
            CRITICAL,
            detail,
        )
    return Check(
        "outbox",
        True,
        i18n.text(gettext_noop("Notifications are delivered in time.")),
        detail=detail,
    )


def checkpoint(now: Any = None) -> Check:
    from siaga.ledger.models import Checkpoint, Entry

    now = now or timezone.now()
    last = Checkpoint.objects.order_by("-size").first()
    signed = last.size if last else 0
    first_unsigned = Entry.objects.filter(seq=signed).values_list("recorded_at", flat=True).first()
    limit = 2 * settings.LEDGER_CHECKPOINT_SECONDS + 60
    detail = {"signed_size": signed, "limit_seconds": limit}
    if first_unsigned is not None:
        waited = int((now - first_unsigned).total_seconds())
        detail["unsigned_for_seconds"] = waited
        if waited > limit:
            return Check(
                "checkpoint",
                False,
                i18n.text(
                    gettext_noop(
                        "Ledger entries have waited %(minutes)s minutes for a signed checkpoint."
                    ),
                    minutes=waited // 60,
                ),
                MAJOR,
                detail,
            )
    return Check(
        "checkpoint",
        True,
        i18n.text(gettext_noop("The ledger's checkpoints are up to date.")),
        detail=detail,
    )


CHECKS: list[Callable[[], Check]] = [database, migrations, disk, workers, outbox, checkpoint]


def run_checks() -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as exc:  # a check that cannot run is that check failing
            logger.exception("readiness check %s failed to run", check.__name__)
            results.append(
                Check(
                    check.__name__,
                    False,
                    i18n.text(gettext_noop("The check could not run: %(error)s"), error=str(exc)),
                    CRITICAL,
                )
            )
    return results

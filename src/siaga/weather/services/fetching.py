"""Reading a source (a URL or a file: an RSS feed of alerts, or one CAP document) and every
document it links, recording each bad input on the feed by its code, and the worker's job
that does so for every feed in SIAGA_WEATHER_FEEDS.

Nothing here stops on a bad input: a document that is refused, a link that answers 404, a
feed that cannot be reached — each is counted on the feed and the rest goes on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import InvalidInput, SiagaError
from siaga.weather import cap
from siaga.weather.models import Feed
from siaga.weather.services import notices
from siaga.weather.services.ingest import Outcome, ingest_document, record_alert, sha256

logger = logging.getLogger("siaga.weather")

RECENT_PROBLEMS = 20
USER_AGENT = "SIAGA weather ingest (+https://siaga.local)"


@dataclass
class Report:
    """What one reading of a source did."""

    feed: Feed
    documents: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False  # the source itself could not be read

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def normalise_source(source: str) -> str:
    source = source.strip()
    if is_url(source):
        return source
    if source.startswith("file://"):
        source = urlsplit(source).path
    return str(Path(source).expanduser().resolve())


def _too_large(source: str) -> InvalidInput:
    return InvalidInput(
        "source_too_large",
        _("The document is larger than SIAGA_WEATHER_MAX_BYTES."),
        detail={"source": source[:300], "limit": settings.WEATHER_MAX_BYTES},
    )


def _not_found(source: str, status: int | None = None) -> InvalidInput:
    return InvalidInput(
        "source_not_found",
        _("The document is not there (the server answered 404, or no such file)."),
        detail={"source": source[:300], "status": status},
    )


def load(source: str) -> bytes:
    """The bytes at a URL or in a file, at most SIAGA_WEATHER_MAX_BYTES."""
    limit = settings.WEATHER_MAX_BYTES
    if is_url(source):
        try:
            with (
                httpx.Client(
                    timeout=settings.WEATHER_FETCH_TIMEOUT_SECONDS,
                    follow_redirects=True,
                    headers={"User-Agent": USER_AGENT},
                ) as client,
                client.stream("GET", source) as response,
            ):
                if response.status_code in (404, 410):
                    raise _not_found(source, response.status_code)
                if response.status_code >= 400:
                    raise InvalidInput(
                        "source_http_error",
                        _("The server answered with an error."),
                        detail={"source": source[:300], "status": response.status_code},
                    )
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(source)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise InvalidInput(
                "source_unreachable",
                _("The server could not be reached."),
                detail={"source": source[:300], "error": type(exc).__name__},
            ) from None
    path = Path(source)
    try:
        if path.stat().st_size > limit:
            raise _too_large(source)
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise _not_found(source) from None
    except OSError as exc:
        raise InvalidInput(
            "source_unreadable",
            _("The file cannot be read."),
            detail={"source": source[:300], "error": type(exc).__name__},
        ) from None


def _link(base: str, link: str) -> str:
    if is_url(base):
        return urljoin(base, link)
    if is_url(link):
        return link
    return str((Path(base).parent / link).resolve())


def record_problem(
    feed: Feed, error: SiagaError | Exception, *, where: str, now: datetime | None = None
) -> dict[str, Any]:
    """Count a bad input on the feed, in its own transaction (the document's own was rolled
    back: nothing of it stays)."""
    now = now or timezone.now()
    if isinstance(error, SiagaError):
        problem = {"code": error.code, "message": str(error.message)[:300], "detail": error.detail}
    else:
        problem = {"code": "internal_error", "message": type(error).__name__, "detail": None}
    problem |= {"at": now.isoformat(), "where": where[:300]}
    with transaction.atomic():
        locked = Feed.objects.select_for_update().get(pk=feed.pk)
        counts = dict(locked.problem_counts)
        counts[problem["code"]] = int(counts.get(problem["code"], 0)) + 1
        locked.problem_counts = counts
        locked.recent_problems = [problem, *locked.recent_problems][:RECENT_PROBLEMS]
        locked.last_error_at = now
        locked.last_error_code = problem["code"][:60]
        locked.last_error_message = problem["message"][:500]
        locked.save(
            update_fields=[
                "problem_counts",
                "recent_problems",
                "last_error_at",
                "last_error_code",
                "last_error_message",
                "updated_at",
            ]
        )
    feed.problem_counts, feed.recent_problems = locked.problem_counts, locked.recent_problems
    feed.last_error_at, feed.last_error_code = locked.last_error_at, locked.last_error_code
    feed.last_error_message = locked.last_error_message
    return problem


def feed_for(source: str, *, polled: bool | None = None) -> Feed:
    feed, _created = Feed.objects.get_or_create(source=normalise_source(source)[:500])
    if polled is not None and feed.polled != polled:
        feed.polled = polled
        feed.save(update_fields=["polled", "updated_at"])
    return feed


def _ingest_linked(report: Report, link: str, *, hint: str, actor: Any, now: datetime) -> None:
    try:
        data = load(link)
        report.documents += 1
        report.outcomes.append(
            ingest_document(data, source=link, feed=report.feed, hint=hint, actor=actor, now=now)
        )
    except SiagaError as exc:
        report.problems.append(record_problem(report.feed, exc, where=link, now=now))
    except Exception as exc:  # one document's fault never stops the others
        logger.exception("weather document %s could not be ingested", link)
        report.problems.append(record_problem(report.feed, exc, where=link, now=now))


def ingest_source(
    source: str, *, actor: Any = None, now: datetime | None = None, polled: bool | None = None
) -> Report:
    """Read ``source`` (URL or file): an RSS feed — then every CAP document its items link —
    or a single CAP document. Returns what happened; raises nothing for a bad input."""
    now = now or timezone.now()
    location = normalise_source(source)
    feed = feed_for(location, polled=polled)
    report = Report(feed=feed)
    Feed.objects.filter(pk=feed.pk).update(last_fetched_at=now, fetches=feed.fetches + 1)
    try:
        data = load(location)
        document = cap.read(data)
    except SiagaError as exc:
        report.failed = True
        report.problems.append(record_problem(feed, exc, where=location, now=now))
        return report
    published: datetime | None
    if isinstance(document, cap.Alert):
        report.documents = 1
        published = document.sent.at
        try:
            report.outcomes.append(
                record_alert(
                    document, digest=sha256(data), source=location, feed=feed, actor=actor, now=now
                )
            )
        except SiagaError as exc:
            report.problems.append(record_problem(feed, exc, where=location, now=now))
    else:
        published = document.published
        for item in document.items:
            if not item.links:
                report.problems.append(
                    record_problem(
                        feed,
                        InvalidInput(
                            "feed_item_without_link",
                            _("A feed item links no CAP document."),
                            detail={"title": item.title[:200]},
                        ),
                        where=location,
                        now=now,
                    )
                )
            for link in item.links:
                _ingest_linked(
                    report,
                    _link(location, link),
                    hint=f"{item.title} {item.description}",
                    actor=actor,
                    now=now,
                )
        Feed.objects.filter(pk=feed.pk).update(title=document.title[:200])
    Feed.objects.filter(pk=feed.pk).update(last_success_at=now, published_at=published)
    feed.refresh_from_db()
    return report


def poll(now: datetime | None = None) -> list[Report]:
    """The worker's job: read every feed in SIAGA_WEATHER_FEEDS, then bring into force the
    warnings whose effective time has come."""
    sources = [normalise_source(s) for s in settings.WEATHER_FEEDS]
    Feed.objects.filter(polled=True).exclude(source__in=sources).update(polled=False)
    reports = []
    for source in sources:
        try:
            reports.append(ingest_source(source, now=now, polled=True))
        except Exception:  # the database itself, say: the next round tries again
            logger.exception("weather feed %s could not be read", source)
    notices.activate_due(now)
    return reports

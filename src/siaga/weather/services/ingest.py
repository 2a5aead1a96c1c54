"""Recording one CAP alert: the warning, its texts, areas, regions and sites, what it updates
or cancels, and the ledger entries — all in one transaction, so a refused or failing document
leaves nothing behind."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.scoping import unit_covering
from siaga.core.errors import Conflict
from siaga.ledger import services as ledger
from siaga.weather import cap, places
from siaga.weather.choices import (
    CapStatus,
    Certainty,
    FoundIn,
    MsgType,
    Severity,
    Urgency,
    WarningState,
)
from siaga.weather.matching import match_sites
from siaga.weather.models import (
    Feed,
    Reference,
    WarningArea,
    WarningInfo,
    WarningRegion,
    WarningSite,
    WeatherWarning,
)
from siaga.weather.services import notices
from siaga.weather.steps import hazards_of

CREATED, DUPLICATE, LANGUAGE_ADDED, IGNORED = "created", "duplicate", "language_added", "ignored"


@dataclass
class Outcome:
    result: str
    warning: WeatherWarning | None = None
    sites: int = 0
    ended: list[str] | None = None  # identifiers it updated or cancelled


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest_document(
    data: bytes,
    *,
    source: str = "",
    feed: Feed | None = None,
    hint: str = "",
    actor: Any = None,
    now: datetime | None = None,
) -> Outcome:
    """Read and record one CAP 1.2 document. A bad document raises ``InvalidInput`` (its stable
    code says why) and writes nothing; the same identifier again changes nothing, except that
    a version in another language is added to the warning. ``hint`` is text that came with the
    document (the RSS item's title: the province it is about)."""
    alert = cap.read_alert(data)
    return record_alert(
        alert, digest=sha256(data), source=source, feed=feed, hint=hint, actor=actor, now=now
    )


def _primary(infos: Sequence[cap.Info]) -> cap.Info | None:
    return next((i for i in infos if i.language == settings.LANGUAGE_CODE), None) or (
        infos[0] if infos else None
    )


def _by_language(infos: Sequence[cap.Info]) -> dict[str, cap.Info]:
    kept: dict[str, cap.Info] = {}
    for info in infos:
        kept.setdefault(info.language, info)
    return kept


def record_alert(
    alert: cap.Alert,
    *,
    digest: str,
    source: str = "",
    feed: Feed | None = None,
    hint: str = "",
    actor: Any = None,
    now: datetime | None = None,
) -> Outcome:
    now = now or timezone.now()
    if alert.msg_type in (MsgType.ACK, MsgType.ERROR):
        return Outcome(IGNORED)
    with transaction.atomic():
        existing = (
            WeatherWarning.objects.select_for_update().filter(identifier=alert.identifier).first()
        )
        if existing is not None:
            return _again(existing, alert, digest=digest, source=source, actor=actor)
        warning = _create(alert, digest=digest, source=source, feed=feed, now=now)
        named = _areas_and_regions(warning, alert, hint)
        # A Cancel covers nothing itself: it ends what it names (whose regions it takes).
        cancel = alert.msg_type == MsgType.CANCEL
        matches = [] if cancel else match_sites(list(warning.areas.all()), named)
        covered = _cover(warning, matches)
        references = _link_references(warning, alert)
        _record_arrival(warning, alert, covered, source=source, digest=digest, actor=actor)
        ended = [
            target.identifier
            for target in _targets(references)
            if _end(target, by=warning, actor=actor, now=now)
        ]
        _apply_earlier_referrers(warning, actor=actor, now=now)
        warning.refresh_from_db()
        notices.activate(warning, now=now)
    return Outcome(CREATED, warning, sites=len(covered), ended=ended)


def _again(
    existing: WeatherWarning, alert: cap.Alert, *, digest: str, source: str, actor: Any
) -> Outcome:
    if (
        existing.sender != alert.sender
        or existing.sent != alert.sent.at
        or existing.msg_type != alert.msg_type
    ):
        raise Conflict(
            "cap_identifier_reused",
            _(
                "This identifier was already used by another alert (its sender, time or type "
                "differ)."
            ),
            detail={"identifier": alert.identifier},
        )
    have = set(existing.infos.values_list("language", flat=True))
    added = [i for lang, i in _by_language(alert.infos).items() if lang not in have]
    if not added:
        return Outcome(DUPLICATE, existing)
    for info in added:
        _info(existing, info, source=source, digest=digest)
    ledger.append(
        kind="weather.language_added",
        subject=existing,
        actor=actor,
        region=_entry_region(existing),
        payload={
            "identifier": existing.identifier,
            "languages": sorted(i.language for i in added),
            "source": source[:300],
            "sha256": digest,
        },
    )
    return Outcome(LANGUAGE_ADDED, existing)


def _create(
    alert: cap.Alert, *, digest: str, source: str, feed: Feed | None, now: datetime
) -> WeatherWarning:
    info = _primary(alert.infos)
    effective = (info.effective if info else None) or alert.sent
    expires = info.expires if info else None
    stated = expires is not None
    if expires is None:
        if alert.msg_type == MsgType.CANCEL:
            expires = alert.sent
        else:
            expires = cap.Stamp(
                at=effective.at + timedelta(hours=settings.WEATHER_DEFAULT_HOURS),
                offset=effective.offset,
            )
    onset = info.onset if info else None
    warning = WeatherWarning.objects.create(
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent.at,
        sent_offset=alert.sent.offset,
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        note=alert.note,
        category=",".join(info.categories)[:100] if info else "",
        urgency=info.urgency if info else Urgency.UNKNOWN,
        severity=info.severity if info else Severity.UNKNOWN,
        certainty=info.certainty if info else Certainty.UNKNOWN,
        hazards=hazards_of(*(i.event for i in alert.infos)) if alert.infos else [],
        effective=effective.at,
        effective_offset=effective.offset,
        onset=onset.at if onset else None,
        onset_offset=onset.offset if onset else None,
        expires=expires.at,
        expires_offset=expires.offset,
        expires_stated=stated,
        feed=feed,
        source=source[:500],
        received_at=now,
    )
    for language_info in _by_language(alert.infos).values():
        _info(warning, language_info, source=source, digest=digest)
    return warning


def _info(warning: WeatherWarning, info: cap.Info, *, source: str, digest: str) -> WarningInfo:
    return WarningInfo.objects.create(
        warning=warning,
        language=info.language,
        event=info.event,
        headline=info.headline,
        description=info.description,
        instruction=info.instruction,
        sender_name=info.sender_name,
        web=info.web,
        contact=info.contact,
        source=source[:500],
        document_sha256=digest,
    )


def _areas_and_regions(warning: WeatherWarning, alert: cap.Alert, hint: str) -> list[places.Found]:
    """The areas of the primary text, and the kabupaten/kecamatan the texts name (BMKG names
    the kecamatan only in the description)."""
    info = _primary(alert.infos)
    if info is None:
        return []
    context = " ".join(
        [hint, *(i.headline for i in alert.infos), *(i.description for i in alert.infos)]
    )
    named: dict[str, places.Found] = {}
    found_in: dict[str, str] = {}
    areas = []
    seen: dict[str, tuple[list[places.Found], set[str]]] = {}
    for position, area in enumerate(info.areas):
        # Many areas may share one description: each text is read once.
        if area.description not in seen:
            seen[area.description] = (
                places.find_regions(area.description, context),
                {f.code for f in places.find_regions(area.description, hint)},
            )
        found, in_area = seen[area.description]
        for f in found:
            named.setdefault(f.code, f)
            found_in.setdefault(f.code, FoundIn.AREA if f.code in in_area else FoundIn.TEXT)
        areas.append(
            WarningArea(
                warning=warning,
                position=position,
                description=area.description,
                polygons=[[list(p) for p in ring] for ring in area.polygons],
                circles=[list(c) for c in area.circles],
                geocodes=[list(g) for g in area.geocodes],
                place_names=[f.name for f in found],
            )
        )
    if not info.areas:
        for f in places.find_regions(context):
            named.setdefault(f.code, f)
            found_in.setdefault(f.code, FoundIn.TEXT)
    WarningArea.objects.bulk_create(areas)
    WarningRegion.objects.bulk_create(
        [WarningRegion(warning=warning, region_id=c, found_in=found_in[c]) for c in named]
    )
    return list(named.values())


def _cover(warning: WeatherWarning, matches: Sequence[Any]) -> list[WarningSite]:
    areas = {a.position: a for a in warning.areas.all()}
    covered = WarningSite.objects.bulk_create(
        [
            WarningSite(
                warning=warning,
                site_id=m.site_id,
                matched_by=m.matched_by,
                area=areas.get(m.area_position) if m.area_position is not None else None,
                region_id=m.region_code,
            )
            for m in matches
        ]
    )
    have = set(warning.regions.values_list("region_id", flat=True))
    site_regions = sorted({m.region_id for m in matches} - have)
    WarningRegion.objects.bulk_create(
        [WarningRegion(warning=warning, region_id=c, found_in=FoundIn.SITE) for c in site_regions]
    )
    return covered


def _entry_region(warning: WeatherWarning) -> str:
    return ledger.common_region(warning.regions.values_list("region_id", flat=True))


def _unit(actor: Any, region: str) -> str:
    return unit_covering(actor, region) if actor is not None else ""


def _record_arrival(
    warning: WeatherWarning,
    alert: cap.Alert,
    covered: Sequence[WarningSite],
    *,
    source: str,
    digest: str,
    actor: Any,
) -> None:
    region = _entry_region(warning)
    info = _primary(alert.infos)
    facts = [
        ledger.Fact(
            kind="weather.warning_received",
            subject_type="weather.weatherwarning",
            subject_id=str(warning.pk),
            actor=getattr(actor, "username", "") or "",
            unit=_unit(actor, region),
            region=region,
            payload={
                "identifier": warning.identifier,
                "sender": warning.sender,
                "sent": alert.sent.isoformat(),
                "status": warning.status,
                "msg_type": warning.msg_type,
                "references": [r.identifier for r in alert.references],
                "event": info.event if info else "",
                "hazards": warning.hazards,
                "severity": warning.severity,
                "urgency": warning.urgency,
                "certainty": warning.certainty,
                "effective": warning.effective_local.isoformat()
                if warning.effective_local
                else None,
                "expires": warning.expires_local.isoformat() if warning.expires_local else None,
                "languages": sorted(_by_language(alert.infos)),
                "areas": len(info.areas) if info else 0,
                "polygons": sum(len(a.polygons) for a in info.areas) if info else 0,
                "regions": sorted(warning.regions.values_list("region_id", flat=True))[:200],
                "sites": len(covered),
                "source": source[:300],
                "sha256": digest,
            },
        )
    ]
    sites = {
        s.pk: s
        for s in warning.sites.select_related("site").only("id", "site__code", "site__region_id")
    }
    for item in covered:
        site = sites[item.pk].site
        facts.append(
            ledger.Fact(
                kind="weather.site_matched",
                subject_type="weather.warningsite",
                subject_id=str(item.pk),
                actor=getattr(actor, "username", "") or "",
                unit=_unit(actor, site.region_id),
                region=site.region_id,
                payload={
                    "identifier": warning.identifier,
                    "warning": str(warning.pk),
                    "site": str(site.pk),
                    "site_code": site.code,
                    "matched_by": item.matched_by,
                    "area": item.area.position if item.area else None,
                    "region": item.region_id,
                },
            )
        )
    ledger.append_many(facts, returning=False)


def _targets(references: Sequence[Reference]) -> list[WeatherWarning]:
    return [r.target for r in references if r.target is not None]


def _link_references(warning: WeatherWarning, alert: cap.Alert) -> list[Reference]:
    """The references, linked to the warnings they name where known; the warning also
    concerns the regions of those (a Cancel names no place of its own)."""
    references = []
    for ref in alert.references:
        target = (
            WeatherWarning.objects.select_for_update().filter(identifier=ref.identifier).first()
        )
        references.append(
            Reference.objects.get_or_create(
                warning=warning,
                identifier=ref.identifier,
                defaults={"sender": ref.sender, "sent": ref.sent[:60], "target": target},
            )[0]
        )
    have = set(warning.regions.values_list("region_id", flat=True))
    inherited = sorted(
        set(
            WarningRegion.objects.filter(warning__in=_targets(references))
            .exclude(region_id__in=have)
            .values_list("region_id", flat=True)
        )
    )
    WarningRegion.objects.bulk_create(
        [WarningRegion(warning=warning, region_id=c, found_in=FoundIn.REFERENCE) for c in inherited]
    )
    return references


def _apply_earlier_referrers(warning: WeatherWarning, *, actor: Any, now: datetime) -> None:
    """An Update or Cancel that arrived before the alert it names takes effect now."""
    waiting = Reference.objects.select_related("warning").filter(
        identifier=warning.identifier, target__isnull=True
    )
    for reference in waiting:
        reference.target = warning
        reference.save(update_fields=["target"])
        if reference.warning.state == WarningState.CURRENT:
            _end(warning, by=reference.warning, actor=actor, now=now)


def _end(target: WeatherWarning, *, by: WeatherWarning, actor: Any, now: datetime) -> bool:
    """``by`` (an Update or a Cancel) ends ``target``; a Cancel also ends whatever updated it
    since. False when there was nothing to end."""
    if target.state != WarningState.CURRENT or target.pk == by.pk:
        if by.msg_type == MsgType.CANCEL and target.superseded_by_id:
            successor = WeatherWarning.objects.select_for_update().get(pk=target.superseded_by_id)
            return _end(successor, by=by, actor=actor, now=now)
        return False
    if by.msg_type not in (MsgType.UPDATE, MsgType.CANCEL) or by.status != CapStatus.ACTUAL:
        return False
    target.ended_at = now
    if by.msg_type == MsgType.UPDATE:
        target.state, target.superseded_by = WarningState.SUPERSEDED, by
        kind, step = "weather.warning_superseded", "lifted"
        keep: set[object] | None = set(by.sites.values_list("site_id", flat=True))
    else:
        target.state, target.cancelled_by = WarningState.CANCELLED, by
        kind, step, keep = "weather.warning_cancelled", "cancelled", None
    target.save(update_fields=["state", "superseded_by", "cancelled_by", "ended_at", "updated_at"])
    region = _entry_region(target)
    ledger.append(
        kind=kind,
        subject=target,
        actor=actor,
        unit=_unit(actor, region),
        region=region,
        payload={"identifier": target.identifier, "by": by.identifier, "msg_type": by.msg_type},
    )
    notices.tell_ended(target, step=step, keep=keep, now=now)
    return True

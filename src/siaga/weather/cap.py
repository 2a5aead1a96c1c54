"""Reading CAP 1.2 alerts and the RSS feeds that list them, as BMKG writes them.

Pure functions over bytes: no database, no network. Every document is parsed with defusedxml
and no DTD at all (CAP and RSS need none), so an entity bomb or an external entity is refused
before anything is expanded. A document that cannot be trusted is refused whole, with a stable
code (``InvalidInput``): nothing of it is half-used.

What BMKG's documents hold that a naive reader gets wrong:

- polygon points are ``lat,lon`` pairs separated by spaces — latitude first; a ring must close
  (its first point repeated last); one ``<area>`` may hold well over a hundred polygons;
- times carry the offset of the issuing office (+07:00 WIB, +08:00 WITA, +09:00 WIT), which
  is kept beside the UTC value so the warning can be shown in the time it was written in;
- the kecamatan are named only in the description text (see ``siaga.weather.places``);
- Update and Cancel messages name earlier alerts in ``<references>``
  (``sender,identifier,sent`` triples separated by spaces);
- RSS ``pubDate`` values may end in ``WIB``/``WITA``/``WIT`` rather than a numeric zone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml import ElementTree as SafeET
from django.utils.translation import gettext_lazy as _

from siaga.core.errors import InvalidInput
from siaga.weather.choices import CapScope, CapStatus, Certainty, MsgType, Severity, Urgency

CAP_12 = "urn:oasis:names:tc:emergency:cap:1.2"
OLDER_CAP = (
    "urn:oasis:names:tc:emergency:cap:1.1",
    "urn:oasis:names:tc:emergency:cap:1.0",
    "http://www.incident.com/cap/1.0",
)
ATOM = "http://www.w3.org/2005/Atom"
NS = {"cap": CAP_12}
POLYGON_MIN_POINTS = 4  # CAP 1.2: at least four pairs, the first and last the same
TEXT_MAX = 20_000  # a description longer than this is cut, not refused
ZONE_OFFSETS = {"WIB": "+0700", "WITA": "+0800", "WIT": "+0900"}


@dataclass(frozen=True)
class Stamp:
    """A CAP time: the instant (aware, UTC) and the offset it was written with, in minutes."""

    at: datetime
    offset: int

    @property
    def local(self) -> datetime:
        return self.at.astimezone(timezone(timedelta(minutes=self.offset)))

    def isoformat(self) -> str:
        return self.local.isoformat()


@dataclass(frozen=True)
class Reference:
    sender: str
    identifier: str
    sent: str


@dataclass
class Area:
    description: str
    # Rings of (lat, lon) points, closed; latitude first as CAP writes them.
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    # (lat, lon, radius in km)
    circles: list[tuple[float, float, float]] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Info:
    language: str
    categories: list[str]
    event: str
    urgency: str
    severity: str
    certainty: str
    effective: Stamp | None
    onset: Stamp | None
    expires: Stamp | None
    sender_name: str
    headline: str
    description: str
    instruction: str
    web: str
    contact: str
    areas: list[Area]


@dataclass
class Alert:
    identifier: str
    sender: str
    sent: Stamp
    status: str
    msg_type: str
    scope: str
    note: str
    references: list[Reference]
    infos: list[Info]


@dataclass(frozen=True)
class FeedItem:
    title: str
    links: list[str]
    description: str
    published: datetime | None


@dataclass
class Feed:
    title: str
    published: datetime | None
    items: list[FeedItem]


def refuse(code: str, message: Any, **detail: Any) -> InvalidInput:
    return InvalidInput(code, message, detail=detail or None)


# --- XML -----------------------------------------------------------------------------------


def parse_xml(data: bytes) -> Element:
    """The document's root, or a refusal: malformed XML, or any DTD or entity at all."""
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise refuse(
            "xml_entities_forbidden",
            _("The document declares a DTD or entities; CAP and RSS need none, so it is refused."),
            reason=type(exc).__name__,
        ) from None
    except ParseError as exc:
        raise refuse(
            "xml_malformed",
            _("The document is not well-formed XML."),
            position=list(getattr(exc, "position", ()) or ()),
        ) from None
    return root


def namespace_of(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def kind_of(root: Element) -> str:
    """``cap``, ``rss`` or ``atom``; a refusal for anything else (CAP of another version too)."""
    name, namespace = local_name(root.tag), namespace_of(root.tag)
    if name == "alert" and namespace == CAP_12:
        return "cap"
    if name == "alert" and (namespace in OLDER_CAP or "emergency:cap" in namespace):
        raise refuse(
            "cap_version_unsupported",
            _("Only CAP 1.2 is read (namespace urn:oasis:names:tc:emergency:cap:1.2)."),
            namespace=namespace,
        )
    if name == "rss":
        return "rss"
    if name == "feed" and namespace == ATOM:
        return "atom"
    raise refuse(
        "cap_not_cap",
        _("The document is neither a CAP 1.2 alert nor an RSS feed of alerts."),
        root=name[:60],
        namespace=namespace[:120],
    )


def _text(parent: Element, name: str, *, limit: int = TEXT_MAX) -> str:
    child = parent.find(f"cap:{name}", NS)
    if child is None or child.text is None:
        return ""
    return " ".join(child.text.split())[:limit]


def _required(parent: Element, name: str, limit: int = 500) -> str:
    value = _text(parent, name, limit=limit)
    if not value:
        raise refuse(
            "cap_field_missing", _("A CAP alert must have %(field)s.") % {"field": name}, field=name
        )
    return value


def _choice(value: str, allowed: type, name: str, *, default: str | None = None) -> str:
    if not value and default is not None:
        return default
    if value not in allowed.values:  # type: ignore[attr-defined]
        raise refuse(
            "cap_field_invalid",
            _("%(field)s has a value CAP 1.2 does not allow.") % {"field": name},
            field=name,
            value=value[:60],
            allowed=list(allowed.values),  # type: ignore[attr-defined]
        )
    return value


def parse_time(value: str, name: str) -> Stamp:
    """A CAP dateTime: it must carry its offset ("2024-01-15T17:25:00+07:00")."""
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise refuse(
            "cap_time_invalid",
            _("%(field)s is not a date and time with its UTC offset.") % {"field": name},
            field=name,
            value=raw[:60],
        )
    offset = moment.utcoffset()
    assert offset is not None
    return Stamp(at=moment.astimezone(UTC), offset=int(offset.total_seconds() // 60))


def _time(parent: Element, name: str) -> Stamp | None:
    value = _text(parent, name, limit=60)
    return parse_time(value, name) if value else None


# --- geometry ------------------------------------------------------------------------------


def _number(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise refuse(
            "cap_polygon_malformed",
            _("A polygon or circle holds something that is not a number."),
            value=raw[:40],
            part=what,
        )
    return value


def _point(pair: str) -> tuple[float, float]:
    lat_raw, comma, lon_raw = pair.partition(",")
    if not comma or "," in lon_raw:
        raise refuse(
            "cap_polygon_malformed",
            _("Polygon points are written lat,lon and separated by spaces."),
            point=pair[:40],
        )
    lat, lon = _number(lat_raw, "latitude"), _number(lon_raw, "longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise refuse(
            "cap_coordinates_out_of_range",
            _(
                "A point lies outside latitude -90..90 or longitude -180..180 (CAP writes "
                "the latitude first)."
            ),
            point=pair[:40],
        )
    return lat, lon


def parse_polygon(text: str) -> list[tuple[float, float]]:
    # "lat, lon" with a space after the comma is read as one point, not two.
    pairs = re.sub(r",\s+", ",", text.strip()).split()
    points = [_point(pair) for pair in pairs]
    if len(points) < POLYGON_MIN_POINTS:
        raise refuse(
            "cap_polygon_malformed",
            _("A polygon needs at least four points, the first repeated last."),
            points=len(points),
        )
    if points[0] != points[-1]:
        raise refuse(
            "cap_polygon_not_closed",
            _("A polygon must close: its last point must be its first."),
            first=list(points[0]),
            last=list(points[-1]),
        )
    return points


def parse_circle(text: str) -> tuple[float, float, float]:
    centre, _space, radius = text.strip().partition(" ")
    lat, lon = _point(centre)
    km = _number(radius.strip() or "nan", "radius")
    if km < 0:
        raise refuse("cap_polygon_malformed", _("A circle's radius cannot be negative."))
    return lat, lon, km


def _area(element: Element) -> Area:
    area = Area(description=_text(element, "areaDesc", limit=1000))
    for polygon in element.findall("cap:polygon", NS):
        area.polygons.append(parse_polygon(polygon.text or ""))
    for circle in element.findall("cap:circle", NS):
        area.circles.append(parse_circle(circle.text or ""))
    for geocode in element.findall("cap:geocode", NS):
        area.geocodes.append(
            (_text(geocode, "valueName", limit=100), _text(geocode, "value", limit=200))
        )
    return area


# --- CAP -----------------------------------------------------------------------------------


def language_of(raw: str) -> str:
    """``id-ID`` -> ``id``; CAP's default language is ``en-US``."""
    return (raw.strip() or "en-US").split("-")[0].lower()[:8]


def _info(element: Element) -> Info:
    return Info(
        language=language_of(_text(element, "language", limit=20)),
        categories=[c.text.strip() for c in element.findall("cap:category", NS) if c.text],
        event=_required(element, "event", 250),
        urgency=_choice(_text(element, "urgency", limit=20), Urgency, "urgency"),
        severity=_choice(_text(element, "severity", limit=20), Severity, "severity"),
        certainty=_choice(_text(element, "certainty", limit=20), Certainty, "certainty"),
        effective=_time(element, "effective"),
        onset=_time(element, "onset"),
        expires=_time(element, "expires"),
        sender_name=_text(element, "senderName", limit=200),
        headline=_text(element, "headline", limit=300),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_text(element, "web", limit=500),
        contact=_text(element, "contact", limit=200),
        areas=[_area(a) for a in element.findall("cap:area", NS)],
    )


def parse_references(text: str) -> list[Reference]:
    references = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise refuse(
                "cap_references_invalid",
                _("References are sender,identifier,sent triples separated by spaces."),
                reference=triple[:200],
            )
        references.append(Reference(sender=parts[0], identifier=parts[1], sent=parts[2]))
    return references


def parse_alert(root: Element) -> Alert:
    msg_type = _choice(_required(root, "msgType", 20), MsgType, "msgType")
    references = parse_references(_text(root, "references"))
    if msg_type in (MsgType.UPDATE, MsgType.CANCEL) and not references:
        raise refuse(
            "cap_references_missing",
            _("An Update or Cancel must name the alerts it refers to."),
            msg_type=msg_type,
        )
    alert = Alert(
        identifier=_required(root, "identifier", 200),
        sender=_required(root, "sender", 200),
        sent=parse_time(_required(root, "sent", 60), "sent"),
        status=_choice(_required(root, "status", 20), CapStatus, "status"),
        msg_type=msg_type,
        scope=_choice(_text(root, "scope", limit=20), CapScope, "scope", default=CapScope.PUBLIC),
        note=_text(root, "note", limit=1000),
        references=references,
        infos=[_info(i) for i in root.findall("cap:info", NS)],
    )
    if re.search(r"[\s,<&]", alert.identifier) or re.search(r"[\s,<&]", alert.sender):
        raise refuse(
            "cap_field_invalid",
            _("An identifier or sender may not hold spaces, commas or < and &."),
            field="identifier",
        )
    if not alert.infos and msg_type in (MsgType.ALERT, MsgType.UPDATE):
        raise refuse("cap_field_missing", _("A CAP alert must have %(field)s.") % {"field": "info"})
    return alert


def read_alert(data: bytes) -> Alert:
    """A CAP 1.2 alert from its bytes, or a refusal (an RSS feed is refused here too)."""
    root = parse_xml(data)
    if kind_of(root) != "cap":
        raise refuse("cap_not_cap", _("The document is not a CAP 1.2 alert."))
    return parse_alert(root)


# --- RSS -----------------------------------------------------------------------------------


def parse_rfc822(raw: str) -> datetime | None:
    """An RSS date; BMKG may write the zone as WIB/WITA/WIT. ``None`` when unreadable (a
    feed's date is information, not a reason to refuse its alerts)."""
    value = raw.strip()
    for zone, numeric in ZONE_OFFSETS.items():
        value = re.sub(rf"\b{zone}\b$", numeric, value)
    parsed = parsedate_tz(value)
    if parsed is None:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    offset: int = parsed[9] or 0
    try:
        naive = datetime(*parsed[:6])
    except ValueError:
        return None
    return (naive - timedelta(seconds=offset)).replace(tzinfo=UTC)


def _plain(element: Element | None) -> str:
    return " ".join((element.text or "").split())[:1000] if element is not None else ""


def parse_rss(root: Element) -> Feed:
    channel = root.find("channel")
    if channel is None:
        raise refuse("feed_malformed", _("An RSS feed needs a channel."))
    items = []
    newest: datetime | None = None
    for item in channel.findall("item"):
        links = []
        link = _plain(item.find("link"))
        if link:
            links.append(link)
        for enclosure in item.findall("enclosure"):
            if enclosure.get("url"):
                links.append(enclosure.get("url", "").strip())
        for alternate in item.findall(f"{{{ATOM}}}link"):
            if alternate.get("href"):
                links.append(alternate.get("href", "").strip())
        published = parse_rfc822(_plain(item.find("pubDate")))
        if published and (newest is None or published > newest):
            newest = published
        items.append(
            FeedItem(
                title=_plain(item.find("title")),
                links=list(dict.fromkeys(links)),
                description=_plain(item.find("description")),
                published=published,
            )
        )
    built = parse_rfc822(_plain(channel.find("lastBuildDate"))) or parse_rfc822(
        _plain(channel.find("pubDate"))
    )
    if built and (newest is None or built > newest):
        newest = built
    return Feed(title=_plain(channel.find("title")), published=newest, items=items)


def parse_atom(root: Element) -> Feed:
    items = []
    newest: datetime | None = None
    for entry in root.findall(f"{{{ATOM}}}entry"):
        links = [
            link.get("href", "").strip()
            for link in entry.findall(f"{{{ATOM}}}link")
            if link.get("href")
        ]
        updated = _plain(entry.find(f"{{{ATOM}}}updated"))
        published = parse_rfc822(updated) if updated else None
        if published and (newest is None or published > newest):
            newest = published
        items.append(
            FeedItem(
                title=_plain(entry.find(f"{{{ATOM}}}title")),
                links=list(dict.fromkeys(links)),
                description=_plain(entry.find(f"{{{ATOM}}}summary")),
                published=published,
            )
        )
    return Feed(title=_plain(root.find(f"{{{ATOM}}}title")), published=newest, items=items)


def read(data: bytes) -> Alert | Feed:
    """A CAP alert or a feed of them, whichever the bytes are."""
    root = parse_xml(data)
    kind = kind_of(root)
    if kind == "cap":
        return parse_alert(root)
    if kind == "rss":
        return parse_rss(root)
    return parse_atom(root)

"""The MQTT subscriber: ``siaga mqtt``, or the worker's ``hazards.mqtt`` loop.

It subscribes to ``siaga/+/+/reading`` (``<prefix>/<site code>/<device id>/reading``) with QoS 1
in a persistent session (MQTT 5, a fixed client id, ``clean_start`` off, a session expiry of
days): while it is away — stopped, restarting, the link down — the broker keeps what arrives
for it (Mosquitto: up to ``max_queued_messages``, 1000 by default), and hands it over when it
is back. Messages are collected for a few milliseconds, ingested in one transaction
(``services.ingest``), and acknowledged only after the commit: a crash between the two means a
redelivery, which the readings' keys turn into counted duplicates, never a loss. After the
broker restarts it reconnects with backoff (up to SIAGA_MQTT_RECONNECT_MAX_SECONDS).

A bad message is counted and acknowledged (it would never get better); a database that cannot
be written (locked, full, gone) holds the batch, unacknowledged, and tries again.
"""

from __future__ import annotations

import logging
import select
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from siaga.hazards.choices import Channel, RejectCode
from siaga.hazards.services.ingestion import Message, count_rejection, ingest

logger = logging.getLogger("siaga.hazards.mqtt")


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    username: str = ""
    password: str = field(default="", repr=False)


def parse_url(url: str) -> Broker:
    """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://…`` (TLS, port 8883)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ImproperlyConfigured(
            f"SIAGA_MQTT_URL={url!r} is not mqtt://host[:port] or mqtts://host[:port]"
        )
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ImproperlyConfigured(f"SIAGA_MQTT_URL={url!r} has a bad port") from None
    return Broker(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


@dataclass
class Stats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    connects: int = 0


class Subscriber:
    """One subscriber; ``run(stop)`` until the event is set."""

    def __init__(
        self,
        *,
        url: str | None = None,
        client_id: str | None = None,
        prefix: str | None = None,
        batch_ms: float | None = None,
        batch_max: int | None = None,
    ) -> None:
        self.broker = parse_url(url or settings.MQTT_URL)
        self.client_id = client_id or settings.MQTT_CLIENT_ID
        self.prefix = (prefix or settings.MQTT_TOPIC_PREFIX).strip("/")
        self.batch_seconds = (batch_ms if batch_ms is not None else settings.MQTT_BATCH_MS) / 1000
        self.batch_max = batch_max or settings.MQTT_BATCH_MAX
        self.pending: list[mqtt.MQTTMessage] = []
        self.stats = Stats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = self._client()

    @property
    def topic(self) -> str:
        return f"{self.prefix}/+/+/reading"

    def _client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password or None)
        if self.broker.tls:
            client.tls_set(
                ca_certs=settings.MQTT_CA_FILE or None, tls_version=ssl.PROTOCOL_TLS_CLIENT
            )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    # -- paho's callbacks (called from loop_read, in run's thread) ------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            logger.warning("MQTT broker refused the connection: %s", reason)
            return
        self.stats.connects += 1
        logger.info(
            "connected to %s:%s (session present: %s)",
            self.broker.host,
            self.broker.port,
            getattr(flags, "session_present", None),
        )
        self.connected.set()
        client.subscribe(self.topic, options=SubscribeOptions(qos=1))

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        self.subscribed.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason.is_failure:
            logger.warning("MQTT connection lost (%s): reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.pending.append(message)

    # -- the loop: network and batches in the caller's one thread ------------------------------
    #
    # paho's own network thread (loop_start) would fight the batches for the GIL: while a batch
    # is ingested it gets the interpreter only every switch interval and reads one packet each
    # time. Here one thread reads every packet the socket holds, ingests them as a batch,
    # acknowledges, and reconnects with backoff when the broker goes away.

    def run(self, stop: threading.Event) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = settings.MQTT_SESSION_EXPIRY_SECONDS
        properties.ReceiveMaximum = min(65535, settings.MQTT_RECEIVE_MAXIMUM)
        self._connect_args: dict[str, Any] = {
            "host": self.broker.host,
            "port": self.broker.port,
            "keepalive": 30,
            "clean_start": False,
            "properties": properties,
        }
        try:
            if not self._connect(stop, first=True):
                return
            while not stop.is_set():
                if not self._network(stop):
                    if not self._connect(stop):
                        return
                    continue
                batch = self._take()
                if batch:
                    self._process(batch, stop)
                    self._flush()
        finally:
            if self.client.socket() is not None:
                self.client.disconnect()
                self._flush()
            _forget_connection()

    def _connect(self, stop: threading.Event, *, first: bool = False) -> bool:
        """Connect (again), waiting longer after each failure; False when told to stop."""
        wait = 1.0
        while not stop.is_set():
            try:
                if first:
                    self.client.connect(**self._connect_args)
                    first = False
                else:
                    self.client.reconnect()
                return True
            except OSError as exc:
                logger.warning("MQTT broker unreachable (%s): again in %.0f s", exc, wait)
                if stop.wait(wait):
                    return False
                wait = min(wait * 2, settings.MQTT_RECONNECT_MAX_SECONDS)
        return False

    def _network(self, stop: threading.Event) -> bool:
        """Read what arrives for up to one batch window; False when the connection is lost."""
        # Up to 0.2 s for a first message, then the batch window from when it came.
        deadline = time.monotonic() + 0.2
        started = bool(self.pending)
        if started:
            deadline = time.monotonic() + self.batch_seconds
        while len(self.pending) < self.batch_max:
            sock = self.client.socket()
            if sock is None:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            writing = [sock] if self.client.want_write() else []
            try:
                readable, writable, _ = select.select([sock], writing, [], remaining)
            except (OSError, ValueError):
                return self._lost()
            if writable and self.client.loop_write() != mqtt.MQTT_ERR_SUCCESS:
                return self._lost()
            if readable:
                while len(self.pending) < self.batch_max:
                    before = len(self.pending)
                    if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                        return self._lost()
                    if len(self.pending) == before:
                        break
                if self.pending and not started:
                    started = True
                    deadline = min(deadline, time.monotonic() + self.batch_seconds)
            if self.client.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
                return self._lost()
            if stop.is_set():
                break
        return True

    def _lost(self) -> bool:
        """The connection dropped: what was read but not yet written is redelivered by the
        broker on the next connection (it was never acknowledged)."""
        self.pending.clear()
        self.connected.clear()
        self.subscribed.clear()
        return False

    def _take(self) -> list[mqtt.MQTTMessage]:
        batch, self.pending = self.pending, []
        return batch

    def _flush(self) -> None:
        """Send what is queued (the acknowledgements) now."""
        for _ in range(100):
            if self.client.socket() is None or not self.client.want_write():
                return
            if self.client.loop_write() != mqtt.MQTT_ERR_SUCCESS:
                return

    def _process(self, batch: list[mqtt.MQTTMessage], stop: threading.Event) -> None:
        now = timezone.now()
        messages: list[Message] = []
        bad_topics: list[str] = []
        depth = len(self.prefix.split("/"))
        for item in batch:
            levels = item.topic.split("/")
            if len(levels) != depth + 3 or levels[-1] != "reading":
                bad_topics.append(item.topic)
                continue
            site_code, device_id = levels[depth], levels[depth + 1]
            messages.append(Message(device_id, item.payload, site_code=site_code, received_at=now))
        wait = 0.5
        while True:
            try:
                results = ingest(messages, channel=Channel.MQTT, now=now) if messages else []
                for topic in bad_topics:
                    count_rejection(
                        site=None,
                        site_code="",
                        device_id="",
                        channel=Channel.MQTT,
                        code=RejectCode.TOPIC_INVALID,
                        detail=topic[:200],
                    )
                break
            except DatabaseError:
                # Not acknowledged: the broker keeps these until they are written.
                self.stats.retries += 1
                logger.exception("the database refused a batch of %s readings", len(batch))
                _forget_connection()
                if stop.wait(wait):
                    return
                wait = min(wait * 2, 10.0)
        for item in batch:
            if item.qos > 0:
                self.client.ack(item.mid, item.qos)
        self.stats.received += len(batch)
        self.stats.batches += 1
        self.stats.rejected += len(bad_topics)
        for result in results:
            if result.status == "accepted":
                self.stats.accepted += 1
            elif result.status == "duplicate":
                self.stats.duplicates += 1
            else:
                self.stats.rejected += 1


def _forget_connection() -> None:
    """A broken connection is opened afresh next time (never the caller's open transaction:
    a test runs the subscriber inside one)."""
    if not connection.in_atomic_block:
        close_old_connections()


def run_until(stop: threading.Event) -> None:
    """The worker's loop: the subscriber where a broker is configured, else nothing."""
    if not settings.MQTT_URL:
        stop.wait()
        return
    Subscriber().run(stop)

"""The MQTT tests' tools: the real Mosquitto on 127.0.0.1:1883 (or a private one started on a
free port with persistence in a temporary directory), a QoS 1 publisher, and a way to run the
subscriber in the test's own thread (so it writes inside the test's transaction) until a
condition holds."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from siaga.hazards.mqtt import Subscriber

HOST, PORT = "127.0.0.1", 1883


def reachable(host: str = HOST, port: int = PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_broker() -> None:
    """Fail where CI demands the broker (SIAGA_REQUIRE_MQTT=1), else skip with the reason."""
    if reachable():
        return
    reason = f"needs the Mosquitto broker on {HOST}:{PORT} (apt-get install mosquitto)"
    if os.environ.get("SIAGA_REQUIRE_MQTT") == "1":
        pytest.fail(f"SIAGA_REQUIRE_MQTT=1 but no broker: {reason}")
    pytest.skip(reason)


def unique_prefix() -> str:
    return f"siaga-test-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Publisher:
    def __init__(self, port: int = PORT) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}"
        )
        self.client.connect(HOST, port)
        self.client.loop_start()

    def send(self, topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, data, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"not published to {topic}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def drive(
    subscriber: Subscriber,
    until: Callable[[], bool],
    *,
    timeout: float = 20.0,
    script: Callable[[], None] | None = None,
) -> None:
    """Run the subscriber here until ``until()`` (which must not touch the database: it runs
    in another thread), with ``script`` (publishing, restarting the broker) beside it."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def watch() -> None:
        deadline = time.monotonic() + timeout
        try:
            if script is not None:
                script()
            while time.monotonic() < deadline and not until():
                time.sleep(0.02)
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)
        finally:
            stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    subscriber.run(stop)
    watcher.join(timeout=5)
    if errors:
        raise errors[0]


class PrivateBroker:
    """``mosquitto`` on a free port, persisting to its own directory: stopped (SIGTERM, which
    saves its queues) and started again by the test."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        (directory / "data").mkdir()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            # Run as whoever runs the tests (as root, mosquitto would otherwise drop to its own
            # user, which cannot write this directory).
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory / 'data'}/\n"
            f"log_dest file {directory / 'mosquitto.log'}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)])
        deadline = time.monotonic() + 10
        while not reachable(HOST, self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"mosquitto did not start on {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    if subprocess.run(["which", "mosquitto"], capture_output=True).returncode != 0:
        reason = "needs the mosquitto program to start a private broker"
        if os.environ.get("SIAGA_REQUIRE_MQTT") == "1":
            pytest.fail(f"SIAGA_REQUIRE_MQTT=1 but {reason}")
        pytest.skip(reason)
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()

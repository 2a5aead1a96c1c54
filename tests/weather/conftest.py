"""BMKG, as the tests meet it: CAP documents and an RSS feed written for them in BMKG's shape
(``fixtures/``), served by a local HTTP server on 127.0.0.1 for the URL path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from siaga.weather.demo import retimed

FIXTURES = Path(__file__).parent / "fixtures"
# 17:40 WIB on the day the fixtures were written: the first alert (17:25-20:00) is in force.
NOW = datetime(2024, 1, 15, 10, 40, tzinfo=UTC)
ALERT_ID = "2.49.0.0.360.0.2024.01.15.10.25.00.CSS20240115001"
UPDATE_ID = "2.49.0.0.360.0.2024.01.15.11.40.00.CSS20240115002"
CANCEL_ID = "2.49.0.0.360.0.2024.01.15.12.30.00.CSS20240115003"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def current(name: str, *, sent: datetime, suffix: str = "") -> bytes:
    """A fixture moved in time so that it was sent at ``sent`` (for pages, which ask the clock)."""
    return retimed(fixture(name), sent=sent, suffix=suffix)


@dataclass
class Bmkg:
    """A stand-in for BMKG's web server: ``files`` maps a path to its bytes; any other path
    answers 404. ``hits`` lists the paths asked for."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def serve_feed(self, path: str = "/alerts/nowcast/id/rss.xml") -> str:
        """The RSS fixture, its links pointing here, and the two documents it links that
        exist (the third answers 404)."""
        rss = fixture("rss-sumsel-id.xml").decode().replace("{base}", self.base)
        self.files[path] = rss.encode()
        self.files["/alerts/nowcast/id/CSS20240115001_alert.xml"] = fixture("cap-okut-alert-id.xml")
        self.files["/alerts/nowcast/en/CSS20240115001_alert.xml"] = fixture("cap-okut-alert-en.xml")
        return self.url(path)


@pytest.fixture
def bmkg() -> Iterator[Bmkg]:
    state = Bmkg()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html><body>404 Not Found</body></html>")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()

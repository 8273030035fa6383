"""Webhook retries against a real local HTTP endpoint that answers a scripted list of statuses: 429 ("too many
requests") and 5xx are retried, each after an exponentially growing pause (base * 2^(n-1), capped at
MAX_BACKOFF); other 4xx answers are final. The sink's pause is recorded (the injected sleep), not waited."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from inventory.config import RecorderSettings
from inventory.recorder.webhook import MAX_BACKOFF, WebhookSink, _Delivery


class Scripted(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.statuses: list[int] = []
        self.requests = 0


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests += 1
        status = self.server.statuses.pop(0) if self.server.statuses else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def endpoint() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def sink_for(server: Scripted, tmp_path: Any, pauses: list[float], backoff: float = 1.0) -> WebhookSink:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-for-tests")
    settings = RecorderSettings(
        webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        webhook_secret_file=str(secret),
        webhook_backoff=backoff,
        webhook_max_attempts=5,
    )
    return WebhookSink(settings, feed=None, sleep=lambda s: pauses.append(s) or False)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [429, 408, 500, 503])
def test_retryable_answers_are_retried_after_growing_pauses(endpoint: Scripted, tmp_path: Any, status: int) -> None:
    endpoint.statuses = [status, status, status]
    pauses: list[float] = []
    outcome = sink_for(endpoint, tmp_path, pauses).deliver(_Delivery("k1", b"{}"))
    assert outcome == "delivered" and endpoint.requests == 4
    assert pauses == [1.0, 2.0, 4.0]  # one pause before each retry, doubling


def test_pauses_are_capped(endpoint: Scripted, tmp_path: Any) -> None:
    endpoint.statuses = [500, 500, 500]
    pauses: list[float] = []
    assert sink_for(endpoint, tmp_path, pauses, backoff=40.0).deliver(_Delivery("k2", b"{}")) == "delivered"
    assert pauses == [40.0, MAX_BACKOFF, MAX_BACKOFF]


@pytest.mark.parametrize("status", [400, 401, 404])
def test_other_client_errors_are_final(endpoint: Scripted, tmp_path: Any, status: int) -> None:
    endpoint.statuses = [status]
    pauses: list[float] = []
    assert sink_for(endpoint, tmp_path, pauses).deliver(_Delivery("k3", b"{}")) == "dropped"
    assert endpoint.requests == 1 and pauses == []

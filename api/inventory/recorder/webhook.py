"""Webhook sink: signed JSON deliveries of stored changes at or above a chosen severity.

Each delivery carries ``X-Inventory-Timestamp`` (Unix seconds), ``X-Inventory-Signature: v1=<hex>`` where
hex = HMAC-SHA256(secret, "<timestamp>.<body>"), and ``Idempotency-Key`` (the change id, the same on every
retry). Failed attempts (connection errors, timeouts, 408/429/5xx) are retried with exponential backoff;
other 4xx answers and exhausted retries drop the delivery. The queue is the stored change table read past a
cursor in the database (``feed.ChangeFeed``): a recorder restart loses nothing, deliveries resume in order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from ..config import WEBHOOK_SEVERITIES, RecorderSettings
from ..history.records import ChangeRecord
from . import metrics
from .feed import ChangeFeed

log = logging.getLogger("inventory.webhook")
RETRYABLE = {408, 425, 429}
MAX_BACKOFF = 60.0
BATCH = 100  # changes read from the feed at a time
IDLE_POLL = 1.0  # seconds between looks at the feed when nothing nudges the sink


def rank(severity: str | None) -> int:
    return WEBHOOK_SEVERITIES.index(severity) if severity in WEBHOOK_SEVERITIES else len(WEBHOOK_SEVERITIES) - 1


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def body_of(change: ChangeRecord) -> bytes:
    return json.dumps({"event": "inventory.change", "change": change.to_dict()}, sort_keys=True).encode()


@dataclass
class _Delivery:
    key: str
    body: bytes
    attempt: int = 0


class WebhookSink:
    def __init__(
        self,
        settings: RecorderSettings,
        feed: ChangeFeed,
        post: Callable[..., requests.Response] | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.feed = feed
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._post = post or requests.Session().post
        self._sleep = sleep or self._stop.wait
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._min_rank = rank(settings.webhook_min_severity)
        self._cursor: int | None = None
        self._caught_up = threading.Event()

    def wanted(self, change: ChangeRecord) -> bool:
        return rank(change.severity) <= self._min_rank

    def offer(self, changes: list[ChangeRecord]) -> None:
        """The recorder stored these changes: look at the feed now instead of at the next poll."""
        if any(self.wanted(c) for c in changes):
            self._caught_up.clear()
            self._wake.set()

    def start(self) -> None:
        """Fix the cursor before the recorder's first cycle (so that cycle's changes are sent), then run."""
        try:
            self._cursor = self.feed.cursor()
        except Exception as exc:  # noqa: BLE001 - database down: the thread keeps trying
            log.warning("webhook feed unavailable", extra={"error": type(exc).__name__})
        self._thread.start()

    def stop(self, drain: float = 5.0) -> None:
        """Stop after the changes stored so far are handled, or after ``drain`` seconds (the rest waits in the
        database for the next start)."""
        self._wake.set()
        self._caught_up.wait(drain)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.settings.webhook_timeout + 1)

    def _secret(self) -> bytes:
        secret = Path(self.settings.webhook_secret_file).read_bytes().strip()
        if not secret:
            raise OSError("webhook secret file is empty")
        return secret

    def attempt(self, d: _Delivery) -> str:
        """One POST: 'delivered', 'retry' or 'drop'."""
        d.attempt += 1
        try:
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "container-inventory-recorder",
                "Idempotency-Key": d.key,
                "X-Inventory-Timestamp": timestamp,
                "X-Inventory-Signature": sign(self._secret(), timestamp, d.body),
            }
            resp = self._post(
                self.settings.webhook_url, data=d.body, headers=headers, timeout=self.settings.webhook_timeout
            )
        except (OSError, requests.RequestException) as exc:
            log.warning(
                "webhook delivery failed", extra={"change": d.key, "attempt": d.attempt, "error": type(exc).__name__}
            )
            return "retry"
        if 200 <= resp.status_code < 300:
            return "delivered"
        log.warning(
            "webhook answered an error", extra={"change": d.key, "attempt": d.attempt, "status": resp.status_code}
        )
        return "retry" if resp.status_code >= 500 or resp.status_code in RETRYABLE else "drop"

    def deliver(self, d: _Delivery) -> str:
        """Attempt until delivered, dropped or out of attempts (backoff: base * 2^(n-1), capped)."""
        while not self._stop.is_set():
            outcome = self.attempt(d)
            if outcome == "delivered":
                metrics.WEBHOOK.labels("delivered").inc()
                return outcome
            metrics.WEBHOOK.labels("failed").inc()
            if outcome == "drop" or d.attempt >= self.settings.webhook_max_attempts:
                metrics.WEBHOOK.labels("dropped").inc()
                log.error("webhook delivery dropped", extra={"change": d.key, "attempts": d.attempt})
                return "dropped"
            self._sleep(min(MAX_BACKOFF, self.settings.webhook_backoff * 2 ** (d.attempt - 1)))
        return "stopped"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain_feed()
            except Exception as exc:  # noqa: BLE001 - the database may be down; never let the thread die
                log.warning("webhook feed unavailable", extra={"error": type(exc).__name__})
                self._sleep(IDLE_POLL)

    def _drain_feed(self) -> None:
        """Deliver what lies past the cursor, in order; then wait for a nudge or the next poll."""
        if self._cursor is None:
            self._cursor = self.feed.cursor()
        batch = self.feed.after(self._cursor, BATCH)
        metrics.WEBHOOK_QUEUE.set(self.feed.pending(self._cursor))
        if not batch:
            self._caught_up.set()
            self._wake.wait(IDLE_POLL)
            self._wake.clear()
            return
        for change in batch:
            if self.wanted(change):
                if self.deliver(_Delivery(change.uid, body_of(change))) == "stopped":
                    break  # not handled: the cursor stays before it, the next start sends it
                self.feed.advance(change.id)  # done with it, durably, before the next one
            self._cursor = change.id
        self.feed.advance(self._cursor)  # past the unwanted ones too

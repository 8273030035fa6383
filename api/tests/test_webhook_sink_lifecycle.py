"""The webhook sink's life outside a single delivery: its thread, what it logs when a delivery or the database
fails (the operator's only view of a lost notification), how long stop() may take, and how the cursor moves
through a batch read from a real (SQLite) feed (make mutation: docs/MUTATION.md)."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from inventory.recorder import webhook
from inventory.recorder.feed import ChangeFeed
from inventory.recorder.webhook import _Delivery
from test_mutants_webhook import Poster, sink
from test_webhook import change, feed, store, wait_for

__all__ = ["feed"]  # the fixture, imported


class Broken:
    """A feed whose database is down for the first ``fails`` calls (sqlalchemy raises OperationalError then)."""

    def __init__(self, real: ChangeFeed | None = None, fails: int = 10**6) -> None:
        self.real, self.fails = real, fails

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> Any:
            if self.fails > 0:
                self.fails -= 1
                raise ConnectionRefusedError("database down")
            return getattr(self.real, name)(*args)

        return call


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "inventory.webhook" and r.getMessage() == message]


def test_the_sink_runs_in_a_daemon_thread_named_webhook(tmp_path: Path, feed: ChangeFeed) -> None:
    """Named: a thread dump of the recorder shows it; a daemon: a sink stuck in a POST never keeps the recorder
    from exiting after stop() gave up waiting."""
    s, _ = sink(tmp_path, Poster())
    s.feed = feed
    s.start()
    try:
        (thread,) = [t for t in threading.enumerate() if t.name == "webhook"]
        assert thread.daemon
    finally:
        s.stop(drain=0)
    assert not thread.is_alive()


def test_a_failed_post_is_logged_with_change_attempt_and_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s, _ = sink(tmp_path, Poster(requests.ConnectionError("refused")))
    with caplog.at_level(logging.WARNING, logger="inventory.webhook"):
        assert s.attempt(_Delivery("k7", b"{}")) == "retry"
    (rec,) = records(caplog, "webhook delivery failed")
    assert rec.levelno == logging.WARNING
    assert (rec.change, rec.attempt, rec.error) == ("k7", 1, "ConnectionError")  # type: ignore[attr-defined]
    assert "refused" not in rec.getMessage()


def test_an_error_answer_is_logged_with_its_status(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s, _ = sink(tmp_path, Poster(503))
    d = _Delivery("k8", b"{}", attempt=2)
    with caplog.at_level(logging.WARNING, logger="inventory.webhook"):
        assert s.attempt(d) == "retry"
    (rec,) = records(caplog, "webhook answered an error")
    assert rec.levelno == logging.WARNING
    assert (rec.change, rec.attempt, rec.status) == ("k8", 3, 503)  # type: ignore[attr-defined]


def test_a_dropped_delivery_is_an_error_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s, _ = sink(tmp_path, Poster(500, 500), webhook_max_attempts=2)
    with caplog.at_level(logging.WARNING, logger="inventory.webhook"):
        assert s.deliver(_Delivery("k9", b"{}")) == "dropped"
    (rec,) = records(caplog, "webhook delivery dropped")
    assert rec.levelno == logging.ERROR
    assert (rec.change, rec.attempts) == ("k9", 2)  # type: ignore[attr-defined]


def test_an_empty_secret_file_says_so(tmp_path: Path) -> None:
    s, _ = sink(tmp_path, Poster())
    Path(s.settings.webhook_secret_file).write_text("\n")
    with pytest.raises(OSError, match=r"^webhook secret file is empty$"):
        s._secret()


def test_a_database_down_at_start_is_logged_and_the_thread_catches_up_later(
    tmp_path: Path, feed: ChangeFeed, caplog: pytest.LogCaptureFixture
) -> None:
    """The cursor is read once the database answers: changes stored meanwhile are delivered, none is lost."""
    post = Poster(204)
    s, _ = sink(tmp_path, post)
    s.feed = Broken(feed, fails=1)  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="inventory.webhook"):
        s.start()
    try:
        (rec,) = records(caplog, "webhook feed unavailable")
        assert rec.error == "ConnectionRefusedError"  # type: ignore[attr-defined]
        s.offer(store(feed, change(1, "CRITICAL")))
        wait_for(lambda: post.calls)
        assert [c["headers"]["Idempotency-Key"] for c in post.calls] == [f"{1:032x}"]
    finally:
        s.stop(drain=0)


def test_the_thread_survives_a_database_down_and_looks_again_after_a_second(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s, slept = sink(tmp_path, Poster())
    s.feed = Broken()  # type: ignore[assignment]

    def one_turn(seconds: float) -> bool:
        slept.append(seconds)
        s._stop.set()
        return True

    s._sleep = one_turn
    with caplog.at_level(logging.WARNING, logger="inventory.webhook"):
        s._run()
    (rec,) = records(caplog, "webhook feed unavailable")
    assert rec.error == "ConnectionRefusedError"  # type: ignore[attr-defined]
    assert slept == [webhook.IDLE_POLL] and webhook.IDLE_POLL == 1.0


class Waits:
    """Stands in for an Event or a Thread: records how long stop() was willing to wait on it."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return False

    join = wait


def test_stop_waits_five_seconds_for_the_backlog_then_one_post_timeout_for_the_thread(tmp_path: Path) -> None:
    s, _ = sink(tmp_path, Poster(), webhook_timeout=3.0)
    s._caught_up, s._thread = Waits(), Waits()  # type: ignore[assignment]
    s.stop()
    assert s._caught_up.timeouts == [5.0]  # type: ignore[attr-defined]
    assert s._thread.timeouts == [4.0]  # type: ignore[attr-defined]  # a POST under way may take webhook_timeout
    assert s._stop.is_set()


def test_a_batch_is_at_most_one_hundred_changes(tmp_path: Path, feed: ChangeFeed) -> None:
    lows = [dataclasses.replace(change(1, "LOW"), uid=f"{n:032x}") for n in range(1, 151)]
    store(feed, *lows)  # none wanted: each is only stepped over
    s, _ = sink(tmp_path, Poster(), webhook_min_severity="HIGH")
    s.feed = feed
    s._drain_feed()
    assert feed.pending(feed.cursor()) == 50
    s._drain_feed()
    assert feed.pending(feed.cursor()) == 0


def test_an_idle_sink_looks_at_the_feed_again_without_a_nudge(
    tmp_path: Path, feed: ChangeFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "IDLE_POLL", 0.05)
    s, _ = sink(tmp_path, Poster())
    s.feed = feed
    looked = threading.Thread(target=s._drain_feed, daemon=True)
    looked.start()
    looked.join(5.0)
    alive = looked.is_alive()
    s._wake.set()  # free a thread that would wait forever
    assert not alive and s._caught_up.is_set()


def test_each_delivered_change_moves_the_cursor_before_the_next_is_sent(tmp_path: Path, feed: ChangeFeed) -> None:
    """A recorder killed during the second POST resends only the second change."""
    first, second = store(feed, change(1, "HIGH"), change(2, "HIGH"))
    cursors: list[int] = []

    class Recording(Poster):
        def __call__(self, url: str, **kw: Any) -> Any:
            cursors.append(ChangeFeed(feed.engine).cursor())
            return super().__call__(url, **kw)

    s, _ = sink(tmp_path, Recording(204, 204))
    s.feed = feed
    s._drain_feed()
    assert cursors == [0, first.id] and feed.cursor() == second.id


def test_a_sink_stopped_mid_batch_keeps_the_unsent_change_for_the_next_start(tmp_path: Path, feed: ChangeFeed) -> None:
    low, _ = store(feed, change(1, "LOW"), change(2, "HIGH"))
    post = Poster()
    s, _ = sink(tmp_path, post)
    s.feed = feed
    s._stop.set()  # stopping: the wanted change is not sent
    s._drain_feed()
    assert post.calls == []
    assert feed.cursor() == low.id  # past the unwanted one, before the unsent one

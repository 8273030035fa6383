"""Webhook sink against a real local HTTP receiver (the docs' example), including retries after 500, fed from a
real (SQLite) history database: its cursor survives a restart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from inventory.config import ConfigError, RecorderSettings, load_recorder_settings
from inventory.history import db
from inventory.history.models import Change
from inventory.history.records import ChangeRecord
from inventory.recorder import metrics
from inventory.recorder.feed import ChangeFeed
from inventory.recorder.webhook import WebhookSink

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
assert spec and spec.loader
receiver_mod: Any = importlib.util.module_from_spec(spec)
spec.loader.exec_module(receiver_mod)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def change(n: int, severity: str | None = "HIGH", kind: str = "finding_opened") -> ChangeRecord:
    return ChangeRecord(
        id=n, uid=f"{n:032x}", at=dt.datetime(2026, 11, 25, 12, 0, n), kind=kind, source="local",
        container_id="c" * 64, container_name="web", workload="name:web", rule="run-as-root" if severity else None,
        severity=severity, fingerprint="f" * 32 if severity else None, old=None, new=None, while_away=False,
    )  # fmt: skip


def counter(outcome: str) -> float:
    return metrics.REGISTRY.get_sample_value("inventory_webhook_deliveries_total", {"outcome": outcome}) or 0.0


@pytest.fixture()
def receiver(tmp_path: Path) -> Any:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-for-tests\n")
    server = receiver_mod.Receiver(free_port(), b"s3cret-for-tests", fail_first=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.secret_file = secret
    yield server
    server.shutdown()
    server.server_close()


def settings_for(server: Any, **kw: Any) -> RecorderSettings:
    base = RecorderSettings(
        webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        webhook_secret_file=str(server.secret_file),
        webhook_min_severity="HIGH",
        webhook_backoff=0.05,
        webhook_max_attempts=5,
    )
    return dataclasses.replace(base, **kw)


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.02)


@pytest.fixture()
def feed(tmp_path: Path) -> ChangeFeed:
    """A migrated SQLite history whose webhook cursor is set (empty database: cursor 0) before changes arrive."""
    engine = db.make_engine(f"sqlite:///{tmp_path}/history.db")
    db.upgrade(engine)
    made = ChangeFeed(engine)
    assert made.cursor() == 0
    return made


def store(feed: ChangeFeed, *changes: ChangeRecord) -> list[ChangeRecord]:
    """Stored as the recorder stores them (ids come from the database)."""
    with feed.engine.begin() as conn:
        conn.execute(Change.__table__.insert(), [row(c) for c in changes])  # type: ignore[attr-defined]
    return feed.after(feed.cursor(), 1000)[-len(changes) :]


def row(c: ChangeRecord) -> dict[str, object]:
    """A change table row of ``c`` (the database gives the id)."""
    return {k: v for k, v in (c.to_dict() | {"uid": c.uid, "at": c.at}).items() if k != "id"}


def test_signed_deliveries_with_retries(receiver: Any, feed: ChangeFeed) -> None:
    failed, delivered = counter("failed"), counter("delivered")
    sink = WebhookSink(settings_for(receiver), feed)
    sink.start()
    sink.offer(store(feed, change(1, "CRITICAL"), change(2, "LOW"), change(3, None, "appeared"), change(4, "HIGH")))
    wait_for(lambda: len(receiver.seen) == 2)
    sink.stop()
    # only HIGH and above, each verified by the receiver; the first two attempts got 500 and were retried
    assert sorted(c["severity"] for c in receiver.seen.values()) == ["CRITICAL", "HIGH"]
    assert set(receiver.seen) == {f"{1:032x}", f"{4:032x}"}
    assert receiver.requests == 4
    assert counter("failed") - failed == 2 and counter("delivered") - delivered == 2
    body = next(iter(receiver.seen.values()))
    assert set(body) >= {"id", "at", "kind", "container_name", "rule", "severity", "while_away"}
    assert feed.pending(feed.cursor()) == 0  # done with all four, the unwanted ones included


def test_wrong_secret_is_rejected_and_dropped(receiver: Any, tmp_path: Path, feed: ChangeFeed) -> None:
    receiver.fail_first = 0
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-secret")
    dropped = counter("dropped")
    sink = WebhookSink(settings_for(receiver, webhook_secret_file=str(wrong)), feed)
    sink.start()
    sink.offer(store(feed, change(5, "CRITICAL")))
    wait_for(lambda: counter("dropped") > dropped)
    sink.stop()
    assert receiver.seen == {} and receiver.requests == 1  # 401 is final: no retry storm
    assert counter("dropped") - dropped == 1


def test_gives_up_after_max_attempts(receiver: Any, feed: ChangeFeed) -> None:
    receiver.fail_first = 100
    dropped = counter("dropped")
    sink = WebhookSink(settings_for(receiver, webhook_max_attempts=3, webhook_min_severity="INFO"), feed)
    sink.start()
    sink.offer(store(feed, change(6, None, "appeared")))
    wait_for(lambda: counter("dropped") > dropped)
    sink.stop()
    assert receiver.requests == 3 and counter("dropped") - dropped == 1


def test_a_restart_loses_nothing_and_sends_in_order(receiver: Any, feed: ChangeFeed) -> None:
    """Changes stored while the receiver is down and the sink is stopped are delivered by the next sink."""
    receiver.fail_first = 10**6  # down
    first = WebhookSink(settings_for(receiver, webhook_backoff=0.05, webhook_max_attempts=10**6), feed)
    first.start()
    first.offer(store(feed, change(7, "CRITICAL")))
    wait_for(lambda: receiver.requests >= 2)
    first.stop(drain=0.2)  # the recorder stops mid-retry
    store(feed, change(8, "HIGH"), change(9, "LOW"), change(10, "CRITICAL"))  # recorded while the sink was away
    assert feed.pending(feed.cursor()) == 4 and receiver.seen == {}
    receiver.fail_first = 0  # back up
    second = WebhookSink(settings_for(receiver), ChangeFeed(feed.engine))
    second.start()
    wait_for(lambda: len(receiver.seen) == 3)
    second.stop()
    assert list(receiver.seen) == [f"{n:032x}" for n in (7, 8, 10)]  # each once, in recorded order
    assert feed.pending(feed.cursor()) == 0


def test_a_new_webhook_does_not_replay_the_past(receiver: Any, tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/old.db")
    db.upgrade(engine)
    old = ChangeFeed(engine)
    with engine.begin() as conn:  # history recorded before any webhook was configured
        conn.execute(Change.__table__.insert(), [row(change(11, "CRITICAL"))])  # type: ignore[attr-defined]
    sink = WebhookSink(settings_for(receiver), old)
    sink.start()
    sink.offer(store(old, change(12, "CRITICAL")))
    wait_for(lambda: len(receiver.seen) == 1)
    sink.stop()
    assert list(receiver.seen) == [f"{12:032x}"]


def test_receiver_verify_rejects_tampering_and_replays() -> None:
    secret, body, ts = b"k", b'{"a":1}', str(int(time.time()))
    from inventory.recorder.webhook import sign

    sig = sign(secret, ts, body)
    assert receiver_mod.verify(secret, ts, sig, body)
    assert not receiver_mod.verify(secret, ts, sig, body + b" ")
    assert not receiver_mod.verify(secret, str(int(ts) - 3600), sign(secret, str(int(ts) - 3600), body), body)


def test_webhook_settings() -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_FILE"):
        load_recorder_settings({"WEBHOOK_URL": "https://hooks.example/x"})
    with pytest.raises(ConfigError, match="WEBHOOK_MIN_SEVERITY"):
        load_recorder_settings({"WEBHOOK_URL": "https://h/x", "WEBHOOK_SECRET_FILE": "/s", "WEBHOOK_MIN_SEVERITY": "x"})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_recorder_settings({"DATABASE_URL": "mysql://db/x"})

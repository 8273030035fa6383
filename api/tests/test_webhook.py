"""Webhook sink against a real local HTTP receiver (the docs' example), including retries after 500."""

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
from inventory.config import ConfigError
from inventory.history import metrics
from inventory.history.settings import RecorderSettings, load_recorder_settings
from inventory.history.store import ChangeRecord
from inventory.history.webhook import WebhookSink

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


def test_signed_deliveries_with_retries(receiver: Any) -> None:
    failed, delivered = counter("failed"), counter("delivered")
    sink = WebhookSink(settings_for(receiver))
    sink.start()
    sink.offer([change(1, "CRITICAL"), change(2, "LOW"), change(3, None, "appeared"), change(4, "HIGH")])
    wait_for(lambda: len(receiver.seen) == 2)
    sink.stop()
    # only HIGH and above, each verified by the receiver; the first two attempts got 500 and were retried
    assert sorted(c["severity"] for c in receiver.seen.values()) == ["CRITICAL", "HIGH"]
    assert set(receiver.seen) == {f"{1:032x}", f"{4:032x}"}
    assert receiver.requests == 4
    assert counter("failed") - failed == 2 and counter("delivered") - delivered == 2
    body = next(iter(receiver.seen.values()))
    assert set(body) >= {"id", "at", "kind", "container_name", "rule", "severity", "while_away"}


def test_wrong_secret_is_rejected_and_dropped(receiver: Any, tmp_path: Path) -> None:
    receiver.fail_first = 0
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-secret")
    dropped = counter("dropped")
    sink = WebhookSink(settings_for(receiver, webhook_secret_file=str(wrong)))
    sink.start()
    sink.offer([change(5, "CRITICAL")])
    wait_for(lambda: counter("dropped") > dropped)
    sink.stop()
    assert receiver.seen == {} and receiver.requests == 1  # 401 is final: no retry storm
    assert counter("dropped") - dropped == 1


def test_gives_up_after_max_attempts(receiver: Any) -> None:
    receiver.fail_first = 100
    dropped = counter("dropped")
    sink = WebhookSink(settings_for(receiver, webhook_max_attempts=3, webhook_min_severity="INFO"))
    sink.start()
    sink.offer([change(6, None, "appeared")])
    wait_for(lambda: counter("dropped") > dropped)
    sink.stop()
    assert receiver.requests == 3 and counter("dropped") - dropped == 1


def test_receiver_verify_rejects_tampering_and_replays() -> None:
    secret, body, ts = b"k", b'{"a":1}', str(int(time.time()))
    from inventory.history.webhook import sign

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

"""The webhook sink's decisions, exactly, without a network: which answers are retried, dropped or delivered, the
backoff between attempts, the signed headers and who is notified at all (make mutation: docs/MUTATION.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from inventory.config import WEBHOOK_SEVERITIES, RecorderSettings
from inventory.history.records import ChangeRecord
from inventory.recorder.webhook import MAX_BACKOFF, WebhookSink, _Delivery, body_of, rank, sign


def change(severity: str | None, n: int = 1) -> ChangeRecord:
    return ChangeRecord(
        id=n, uid=f"{n:032x}", at=dt.datetime(2026, 11, 25, 12, 0, n), kind="finding_opened", source="local",
        container_id="c" * 64, container_name="web", workload="name:web", rule="run-as-root" if severity else None,
        severity=severity, fingerprint="f" * 32 if severity else None, old=None, new=None, while_away=False,
    )  # fmt: skip


class Answer:
    def __init__(self, status: int) -> None:
        self.status_code = status


class Poster:
    """Answers each POST with the next status (or raises it, if it is an exception); records every call."""

    def __init__(self, *answers: int | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url: str, **kw: Any) -> Answer:
        self.calls.append({"url": url, **kw})
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return Answer(answer)


def sink(tmp_path: Path, post: Poster, **kw: Any) -> tuple[WebhookSink, list[float]]:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = RecorderSettings(
        webhook_url="http://127.0.0.1:9/hook", webhook_secret_file=str(secret), webhook_backoff=0.5,
        webhook_max_attempts=6, webhook_timeout=3.0,
    )  # fmt: skip
    slept: list[float] = []

    def sleep(seconds: float) -> bool:
        slept.append(seconds)
        return False

    return WebhookSink(dataclasses.replace(settings, **kw), feed=None, post=post, sleep=sleep), slept  # type: ignore[arg-type]


def test_rank_orders_severities_and_puts_the_unknown_last() -> None:
    assert [rank(s) for s in WEBHOOK_SEVERITIES] == list(range(len(WEBHOOK_SEVERITIES)))
    assert rank(None) == rank("bogus") == len(WEBHOOK_SEVERITIES) - 1 == rank("INFO")


def test_only_changes_at_or_above_the_minimum_severity_are_wanted(tmp_path: Path) -> None:
    s, _ = sink(tmp_path, Poster(), webhook_min_severity="HIGH")
    assert [s.wanted(change(sev)) for sev in ("CRITICAL", "HIGH", "MEDIUM", "LOW", None)] == [
        True, True, False, False, False,
    ]  # fmt: skip
    everything, _ = sink(tmp_path, Poster(), webhook_min_severity="INFO")
    assert everything.wanted(change(None)) and everything.wanted(change("LOW"))


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign(b"k", "1700000000", b"{}") == "v1=" + expected


def test_the_body_is_the_change_as_sorted_json() -> None:
    c = change("HIGH")
    body = body_of(c)
    assert json.loads(body) == {"event": "inventory.change", "change": c.to_dict()}
    assert body == json.dumps(json.loads(body), sort_keys=True).encode()


def test_one_attempt_posts_signed_headers_to_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inventory.recorder.webhook.time.time", lambda: 1700000000.7)
    post = Poster(204)
    s, _ = sink(tmp_path, post)
    d = _Delivery("k1", b'{"a":1}')
    assert s.attempt(d) == "delivered" and d.attempt == 1
    (call,) = post.calls
    assert call["url"] == "http://127.0.0.1:9/hook"
    assert call["data"] == b'{"a":1}' and call["timeout"] == 3.0
    assert call["headers"] == {
        "Content-Type": "application/json",
        "User-Agent": "container-inventory-recorder",
        "Idempotency-Key": "k1",
        "X-Inventory-Timestamp": "1700000000",
        "X-Inventory-Signature": sign(b"s3cret", "1700000000", b'{"a":1}'),
    }


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "delivered"), (201, "delivered"), (299, "delivered"), (199, "drop"), (300, "drop"), (400, "drop"),
     (404, "drop"), (407, "drop"), (408, "retry"), (425, "retry"), (429, "retry"), (499, "drop"), (500, "retry"),
     (503, "retry"), (599, "retry")],
)  # fmt: skip
def test_what_each_answer_means(tmp_path: Path, status: int, outcome: str) -> None:
    s, _ = sink(tmp_path, Poster(status))
    assert s.attempt(_Delivery("k", b"{}")) == outcome


@pytest.mark.parametrize("error", [requests.ConnectionError("refused"), requests.Timeout("slow"), OSError("io")])
def test_a_failed_post_is_retried(tmp_path: Path, error: BaseException) -> None:
    s, _ = sink(tmp_path, Poster(error))
    assert s.attempt(_Delivery("k", b"{}")) == "retry"


def test_an_empty_secret_file_is_never_sent_unsigned(tmp_path: Path) -> None:
    post = Poster(200)
    s, _ = sink(tmp_path, post)
    Path(s.settings.webhook_secret_file).write_text("  \n")
    assert s.attempt(_Delivery("k", b"{}")) == "retry"
    assert post.calls == []


def test_retries_back_off_exponentially_until_delivered(tmp_path: Path) -> None:
    post = Poster(500, 429, requests.ConnectionError(), 200)
    s, slept = sink(tmp_path, post, webhook_backoff=0.5)
    d = _Delivery("k", b"{}")
    assert s.deliver(d) == "delivered"
    assert slept == [0.5, 1.0, 2.0] and d.attempt == 4
    assert {c["headers"]["Idempotency-Key"] for c in post.calls} == {"k"}


def test_the_backoff_is_capped(tmp_path: Path) -> None:
    s, slept = sink(tmp_path, Poster(*[503] * 9), webhook_backoff=20.0, webhook_max_attempts=9)
    assert s.deliver(_Delivery("k", b"{}")) == "dropped"
    assert slept == [20.0, 40.0] + [MAX_BACKOFF] * 6
    assert MAX_BACKOFF == 60.0


def test_out_of_attempts_drops_after_exactly_max_attempts(tmp_path: Path) -> None:
    post = Poster(*[500] * 10)
    s, slept = sink(tmp_path, post, webhook_max_attempts=3)
    assert s.deliver(_Delivery("k", b"{}")) == "dropped"
    assert len(post.calls) == 3 and len(slept) == 2


def test_a_client_error_drops_at_once(tmp_path: Path) -> None:
    post = Poster(400, 200)
    s, slept = sink(tmp_path, post)
    assert s.deliver(_Delivery("k", b"{}")) == "dropped"
    assert len(post.calls) == 1 and slept == []


def test_a_stopped_sink_delivers_nothing(tmp_path: Path) -> None:
    post = Poster(200)
    s, _ = sink(tmp_path, post)
    s._stop.set()
    assert s.deliver(_Delivery("k", b"{}")) == "stopped"
    assert post.calls == []

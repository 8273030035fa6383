"""The Docker event stream, exactly: which JSON lines become events and how a stream ends (make mutation found the
gaps: read_events was in no unit test, event_from_json's fallbacks were never fed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from inventory.backends import docker_events
from inventory.backends.docker_events import StreamIdle, event_from_json, read_events
from inventory.model import BackendUnavailable, ContainerEvent

CID = "c0ffee" * 10


def line(**doc: Any) -> bytes:
    return json.dumps({"Type": "container", "Action": "start", **doc}).encode()


def test_only_a_json_object_of_type_container_is_an_event() -> None:
    for text in ("[1, 2]", '"start"', "3", "null", "not json"):
        assert event_from_json(text) is None, text
    assert event_from_json(line(Type="network", Actor={"ID": CID})) is None
    assert event_from_json(json.dumps({"Actor": {"ID": CID}, "Action": "start"})) is None


def test_an_event_without_an_action_is_dropped() -> None:
    assert event_from_json(json.dumps({"Type": "container", "Actor": {"ID": CID}})) is None


def test_the_id_comes_from_the_actor_or_from_the_old_top_level_id() -> None:
    assert event_from_json(line(Actor={"ID": CID})) == ContainerEvent(id=CID, action="start")
    assert event_from_json(line(id=CID)) == ContainerEvent(id=CID, action="start")
    assert event_from_json(line(Actor={}, id=CID)) == ContainerEvent(id=CID, action="start")
    assert event_from_json(line(ID=CID)) is None  # only the documented key


@pytest.mark.parametrize("cid", ["", 42, ["x"], {"a": 1}])
def test_an_id_that_is_no_non_empty_string_drops_the_event(cid: Any) -> None:
    assert event_from_json(line(Actor={"ID": cid})) is None


def test_the_engine_time_is_kept_and_defaults_to_zero() -> None:
    assert event_from_json(line(Actor={"ID": CID}, timeNano=1733600000123456789)) == ContainerEvent(
        id=CID, action="start", time_nano=1733600000123456789
    )
    assert event_from_json(line(Actor={"ID": CID}, timenano=5)) == ContainerEvent(id=CID, action="start")
    assert event_from_json(line(Actor={"ID": CID}, timeNano=None)) == ContainerEvent(id=CID, action="start")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class Stream:
    """A streaming answer: iter_lines yields the lines, then raises ``fail`` (if any) after moving the clock."""

    def __init__(self, lines: list[bytes], clock: Clock, fail: BaseException | None = None, after: float = 0.0):
        self.lines, self.clock, self.fail, self.after = lines, clock, fail, after
        self.closed = False

    def iter_lines(self) -> Iterator[bytes]:
        yield from self.lines
        if self.fail is not None:
            self.clock.now += self.after
            raise self.fail

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(docker_events, "time", SimpleNamespace(monotonic=c.monotonic))
    return c


def test_events_are_read_in_order_past_blank_and_foreign_lines(clock: Clock) -> None:
    other = "d" * 64
    stream = Stream([b"", line(Actor={"ID": CID}), b"", line(Action="exec_create: sh", Actor={"ID": CID}),
                     line(Action="die", Actor={"ID": other})], clock)  # fmt: skip
    events = read_events(stream, idle_timeout=10, errors=(TimeoutError,))
    assert next(events) == ContainerEvent(id=CID, action="start")
    assert next(events) == ContainerEvent(id=other, action="die")
    with pytest.raises(BackendUnavailable, match=r"^docker event stream closed by the engine$"):
        next(events)
    assert stream.closed


def test_a_stream_closed_by_the_engine_is_an_error_not_a_quiet_end(clock: Clock) -> None:
    stream = Stream([], clock)
    with pytest.raises(BackendUnavailable, match=r"^docker event stream closed by the engine$"):
        list(read_events(stream, idle_timeout=10, errors=(TimeoutError,)))
    assert stream.closed


def test_a_read_error_soon_after_a_line_is_a_broken_stream(clock: Clock) -> None:
    fail = TimeoutError("read")
    stream = Stream([line(Actor={"ID": CID})], clock, fail=fail, after=8.9)
    events = read_events(stream, idle_timeout=10, errors=(TimeoutError,))
    assert next(events).id == CID
    with pytest.raises(BackendUnavailable, match=r"^docker event stream broken: TimeoutError$") as err:
        next(events)
    assert err.value.__cause__ is fail
    assert stream.closed


def test_a_read_error_before_any_line_is_a_broken_stream_too(clock: Clock) -> None:
    stream = Stream([], clock, fail=ConnectionResetError(), after=0.0)
    with pytest.raises(BackendUnavailable, match=r"^docker event stream broken: ConnectionResetError$"):
        list(read_events(stream, idle_timeout=10, errors=(ConnectionResetError,)))


def test_silence_for_nine_tenths_of_the_idle_timeout_is_idle_not_an_error(clock: Clock) -> None:
    stream = Stream([line(Actor={"ID": CID})], clock, fail=TimeoutError(), after=9.0)
    with pytest.raises(StreamIdle) as err:
        list(read_events(stream, idle_timeout=10, errors=(TimeoutError,)))
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert stream.closed


def test_an_error_not_listed_is_not_caught(clock: Clock) -> None:
    stream = Stream([], clock, fail=KeyError("x"), after=30.0)
    with pytest.raises(KeyError):
        list(read_events(stream, idle_timeout=10, errors=(TimeoutError,)))
    assert stream.closed

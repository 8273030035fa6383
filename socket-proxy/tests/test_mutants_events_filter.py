"""The event line the proxy passes on, byte for byte, and every malformed engine line it drops (make mutation:
docs/MUTATION.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from events_filter import events_query_ok, filter_event

CID = "ab" * 32


def engine(**doc: Any) -> bytes:
    base = {"Type": "container", "Action": "die", "Actor": {"ID": CID, "Attributes": {}}}
    return json.dumps({**base, **doc}).encode()


def test_the_passed_line_is_rebuilt_exactly() -> None:
    line = engine(
        Actor={"ID": CID, "Attributes": {"name": "web", "exitCode": 137, "com.example.secret": "x", "image": "nginx"}},
        time=1733600000, timeNano=1733600000123456789, scope="swarm", id=CID, status="die", **{"from": "nginx"},
    )  # fmt: skip
    assert filter_event(line) == (
        b'{"Type":"container","Action":"die","Actor":{"ID":"' + CID.encode() + b'","Attributes":{"name":"web",'
        b'"image":"nginx","exitCode":"137"}},"scope":"local","time":1733600000,"timeNano":1733600000123456789}\n'
    )


def test_missing_times_are_zero() -> None:
    passed = filter_event(engine(time=None))
    assert passed is not None
    doc = json.loads(passed)
    assert (doc["time"], doc["timeNano"]) == (0, 0)


@pytest.mark.parametrize("text", [b"[1]", b'"die"', b"null", b"{", b"7"])
def test_a_line_that_is_no_json_object_is_dropped(text: bytes) -> None:
    assert filter_event(text) is None


def test_an_event_without_an_actor_is_dropped() -> None:
    assert filter_event(json.dumps({"Type": "container", "Action": "die"}).encode()) is None
    assert filter_event(engine(Actor=["x"])) is None
    assert filter_event(engine(Actor=None)) is None


@pytest.mark.parametrize("cid", [42, None, ["x"], "ABCDEF012345", "abc", "a" * 65, "zz" * 32])
def test_an_actor_id_that_is_no_container_id_drops_the_event(cid: Any) -> None:
    assert filter_event(engine(Actor={"ID": cid, "Attributes": {}})) is None


@pytest.mark.parametrize("attrs", [["name"], "name=web", None, 3])
def test_attributes_that_are_no_object_pass_as_none(attrs: Any) -> None:
    passed = filter_event(engine(Actor={"ID": CID, "Attributes": attrs}))
    assert passed is not None
    assert json.loads(passed)["Actor"] == {"ID": CID, "Attributes": {}}


def test_a_twelve_character_id_passes() -> None:
    passed = filter_event(engine(Actor={"ID": CID[:12]}))
    assert passed is not None and json.loads(passed)["Actor"]["ID"] == CID[:12]


def q(**params: str) -> list[tuple[str, str]]:
    return list(params.items())


TYPE = '{"type":["container"]}'


@pytest.mark.parametrize(
    ("method", "query", "expected"),
    [
        ("GET", q(filters=TYPE), ("events", "ok")),
        ("GET", q(filters='{"type":{"container":true}}'), ("events", "ok")),
        ("GET", q(filters='{"type":["container"],"event":["die","health_status"],"container":["web"]}'),
         ("events", "ok")),
        ("GET", q(since="1733600000", until="1733600000.123456789", filters=TYPE), ("events", "ok")),
        ("HEAD", q(filters=TYPE), (None, "events: only GET")),
        ("GET", [("filters", TYPE), ("filters", TYPE)], (None, "events: repeated query parameter")),
        ("GET", q(since="yesterday", filters=TYPE), (None, "events: since must be a unix timestamp")),
        ("GET", q(until="1.1234567891", filters=TYPE), (None, "events: until must be a unix timestamp")),
        ("GET", q(since="1" * 21, filters=TYPE), (None, "events: since must be a unix timestamp")),
        ("GET", q(), (None, "events: filters with type=container are required")),
        ("GET", q(filters="{"), (None, "events: filters with type=container are required")),
        ("GET", q(filters='["container"]'), (None, "events: only the type, event and container filters are allowed")),
        ("GET", q(filters='{"type":["container"],"label":["a"]}'),
         (None, "events: only the type, event and container filters are allowed")),
        ("GET", q(filters='{"type":["image"]}'), (None, "events: filters with type=container are required")),
        ("GET", q(filters='{"type":["container","image"]}'),
         (None, "events: filters with type=container are required")),
        ("GET", q(filters='{"type":{"container":1}}'), (None, "events: filters with type=container are required")),
        ("GET", q(filters='{"type":["container"],"event":"die"}'), (None, "events: malformed event filter")),
        ("GET", q(filters='{"type":["container"],"container":[1]}'), (None, "events: malformed container filter")),
        ("GET", q(filters='{"type":["container"],"event":["exec_create","exec_die"]}'), ("events", "ok")),
        ("GET", q(filters='{"type":["container"],"event":["exec_detach"]}'),
         (None, "events: only container lifecycle events are allowed")),
        ("GET", q(filters='{"type":["container"],"container":["exec_create"]}'), ("events", "ok")),
    ],
)  # fmt: skip
def test_events_requests_and_their_refusal_reasons(
    method: str, query: list[tuple[str, str]], expected: tuple[str | None, str]
) -> None:
    assert events_query_ok(method, query) == expected

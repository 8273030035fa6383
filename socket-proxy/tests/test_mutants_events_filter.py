"""The event line the proxy passes on, byte for byte, and every malformed engine line it drops (make mutation:
docs/MUTATION.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from events_filter import filter_event

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

"""The socket proxy's allow-list and redaction, exactly: every route with its refusal reason (the proxy's log and
403 body), and the inspect/list answers after redaction field by field (make mutation: docs/MUTATION.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from request_rules import filter_body, match_route, redact_inspect, redact_list

CID = "ab" * 32
EVENTS_OK = '/events?filters={"type":["container"]}'


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "/_ping", ("ping", "ok")),
        ("HEAD", "/v1.41/_ping", ("ping", "ok")),
        ("GET", "/v1.43/version", ("version", "ok")),
        ("GET", "/containers/json?all=1&limit=5&filters={}&size=0&trunc_cmd=1", ("list", "ok")),
        ("GET", "/containers/json?size=false", ("list", "ok")),
        ("GET", "/containers/json?size=FALSE", ("list", "ok")),
        ("GET", f"/v1.41/containers/{CID}/json", ("inspect", "ok")),
        ("GET", "/containers/web_1.blue-2/json", ("inspect", "ok")),
        ("GET", EVENTS_OK, ("events", "ok")),
        ("POST", "/containers/json", (None, "method POST is not allowed")),
        ("DELETE", f"/containers/{CID}", (None, "method DELETE is not allowed")),
        ("GET", "/containers/json?size=1", (None, "size=true is not allowed")),
        ("GET", "/containers/json?size=true", (None, "size=true is not allowed")),
        ("GET", "/containers/json?size=", (None, "size=true is not allowed")),
        ("GET", "/containers/json?all=1&zzz=1&aaa=2", (None, "query parameter 'aaa' is not allowed")),
        ("GET", "/_ping?x=", (None, "query parameter 'x' is not allowed")),
        ("GET", f"/containers/{CID}/json?size=1", (None, "query parameter 'size' is not allowed")),
        ("GET", f"/containers/{CID}/archive", (None, "endpoint is not allowed")),
        ("GET", f"/containers/{CID}/logs", (None, "endpoint is not allowed")),
        ("GET", "/containers/-x/json", (None, "endpoint is not allowed")),
        ("GET", "/v1/_ping", (None, "endpoint is not allowed")),
        ("GET", "/images/json", (None, "endpoint is not allowed")),
        ("GET", "/_ping/", (None, "endpoint is not allowed")),
        ("GET", "/containers/%2e%2e/json", (None, "encoded or non-canonical path")),
        ("GET", "/containers//json", (None, "encoded or non-canonical path")),
        ("GET", "/containers/../version", (None, "encoded or non-canonical path")),
        ("GET", "/containers/x/..", (None, "encoded or non-canonical path")),
        ("POST", EVENTS_OK, (None, "method POST is not allowed")),
        ("GET", "/events?filters={}", (None, "events: filters with type=container are required")),
    ],
)
def test_every_route_and_refusal_reason(method: str, target: str, expected: tuple[str | None, str]) -> None:
    assert match_route(method, target) == expected


def test_a_long_name_is_no_container_name() -> None:
    assert match_route("GET", f"/containers/{'a' * 128}/json") == ("inspect", "ok")
    assert match_route("GET", f"/containers/{'a' * 129}/json") == (None, "endpoint is not allowed")


def inspect_doc() -> dict[str, Any]:
    return {
        "Id": CID, "Path": "/bin/sh", "Args": ["-c", "secret"], "Name": "/web",
        "Config": {"Env": ["A=1"], "Cmd": ["x"], "Entrypoint": ["/e"], "OnBuild": ["RUN x"], "User": "1000",
                   "Image": "nginx", "Healthcheck": {"Test": ["CMD-SHELL", "curl -u a:b x"], "Interval": 5}},
        "HostConfig": {"Privileged": False, "LogConfig": {"Type": "splunk", "Config": {"splunk-token": "t"}}},
        "GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": "/var/lib/docker/x"}},
    }  # fmt: skip


def test_inspect_loses_exactly_the_secret_bearing_fields() -> None:
    assert redact_inspect(inspect_doc()) == {
        "Id": CID, "Name": "/web",
        "Config": {"User": "1000", "Image": "nginx",
                   "Healthcheck": {"Test": ["CMD-SHELL", "[redacted]"], "Interval": 5}},
        "HostConfig": {"Privileged": False, "LogConfig": {"Type": "splunk", "Config": {}}},
        "GraphDriver": {"Name": "overlay2", "Data": None},
    }  # fmt: skip


@pytest.mark.parametrize("test", [None, [], ["NONE"]])
def test_a_disabled_or_absent_healthcheck_is_left_as_it_is(test: Any) -> None:
    doc = inspect_doc()
    doc["Config"]["Healthcheck"] = {"Test": test}
    assert redact_inspect(doc)["Config"]["Healthcheck"] == {"Test": test}


def test_an_empty_test_string_list_stays_empty() -> None:
    doc = inspect_doc()
    doc["Config"]["Healthcheck"] = {"Test": ""}
    assert redact_inspect(doc)["Config"]["Healthcheck"] == {"Test": []}


def test_odd_shapes_are_left_alone() -> None:
    doc = {"Config": None, "HostConfig": ["x"], "GraphDriver": "overlay2", "Path": "/p"}
    assert redact_inspect(doc) == {"Config": None, "HostConfig": ["x"], "GraphDriver": "overlay2"}
    doc = {"Config": {"Healthcheck": "x"}, "HostConfig": {"LogConfig": "json-file"}}
    assert redact_inspect(doc) == {"Config": {"Healthcheck": "x"}, "HostConfig": {"LogConfig": "json-file"}}


def test_the_list_loses_the_command_only() -> None:
    items: list[Any] = [{"Id": CID, "Command": "sh -c secret", "Image": "nginx"}, "odd", {"Id": "x"}]
    assert redact_list(items) == [{"Id": CID, "Image": "nginx"}, "odd", {"Id": "x"}]


def test_filter_body_rewrites_inspect_and_list_compactly_and_passes_the_rest() -> None:
    inspect = json.dumps(inspect_doc(), indent=2).encode()
    assert filter_body("inspect", inspect) == json.dumps(redact_inspect(inspect_doc()), separators=(",", ":")).encode()
    listing = b'[ {"Id": "x", "Command": "sh"} ]'
    assert filter_body("list", listing) == b'[{"Id":"x"}]'
    assert filter_body("list", b'{"Command": "sh"}') == b'{"Command":"sh"}'  # no list: nothing to take out
    # a shape the route never has is passed on as it is (re-serialised): only the known shape is redacted
    assert filter_body("inspect", b'[{"Path": "/p", "Command": "sh"}]') == b'[{"Path":"/p","Command":"sh"}]'
    assert filter_body("version", b'{"Version": "27", "Path": "/p"}') == b'{"Version": "27", "Path": "/p"}'
    assert filter_body("ping", b"OK") == b"OK"

"""CIS 5.7 / 5.23 / 5.24 through the proxy: processes and execs pass, their arguments and commands never do.

The canary sits where a real engine puts it: in a process's argument list (the CMD column of `top`), in an exec's
ProcessConfig (entrypoint, arguments) and in an exec event's action. It must appear in no answer the proxy gives,
and `ps_args` (which the engine hands to `ps` on the host) never reaches the engine.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import socket_proxy as sp
from events_filter import filter_event
from process_rules import exec_attributes, executable_name, reduce_exec, reduce_top
from test_socket_proxy import CID, _serve_proxy

CANARY = "CANARY-5f1d0c-do-not-pass"
EXEC_ID = "4f7a0c5e9b1d2a3c4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5"
# What Docker answers for `top` with its default ps_args (-ef) ...
TOP_EF = {
    "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
    "Processes": [
        ["root", "4101", "4080", "0", "22:54", "?", "00:00:00", f"sh -c sleep 3600 # --password={CANARY}"],
        ["root", "4120", "4101", "0", "22:54", "?", "00:00:00", f"/usr/sbin/sshd -D -o Token={CANARY}"],
        ["root", "4121", "4120", "0", "22:54", "?", "00:00:00", f"sshd: {CANARY}@pts/0"],
        ["1000", "4122", "4101", "0", "22:54", "?", "00:00:00", "-bash"],
    ],
}
# ... and for the ps_args the proxy sends (-o pid,comm)
TOP_COMM = {"Titles": ["PID", "COMMAND"], "Processes": [["4101", "sh"], ["4120", "sshd"], ["4122", "bash"]]}
EXEC = {
    "ID": EXEC_ID,
    "Running": True,
    "ExitCode": None,
    "ProcessConfig": {
        "tty": False,
        "entrypoint": "sh",
        "arguments": ["-c", f"echo {CANARY}"],
        "privileged": True,
        "user": "root",
    },
    "OpenStdin": False,
    "ContainerID": CID,
    "DetachKeys": "",
    "Pid": 4242,
}


def test_top_keeps_executable_names_only() -> None:
    for doc in (TOP_EF, TOP_COMM):
        out = reduce_top(json.loads(json.dumps(doc)))
        assert CANARY not in json.dumps(out)
        assert out["Titles"] == ["COMMAND"] and all(len(row) == 1 for row in out["Processes"])
    assert reduce_top(TOP_EF)["Processes"] == [["sh"], ["sshd"], ["sshd"], ["bash"]]
    assert reduce_top(TOP_COMM)["Processes"] == [["sh"], ["sshd"], ["bash"]]
    assert reduce_top({"Titles": ["PID"], "Processes": [["1"]]}) == {"Titles": ["COMMAND"], "Processes": []}
    assert executable_name("") == "?" and executable_name("/" + "x" * 100) == "x" * 64


def test_exec_inspect_keeps_container_privileged_and_user_only() -> None:
    out = reduce_exec(json.loads(json.dumps(EXEC)))
    assert CANARY not in json.dumps(out) and "sh" not in json.dumps(out["ProcessConfig"])
    assert out == {
        "ID": EXEC_ID,
        "ContainerID": CID,
        "Running": True,
        "ExitCode": None,
        "ProcessConfig": {"privileged": True, "user": "root"},
    }
    assert exec_attributes(EXEC) == {"privileged": "true", "user": "root"}
    assert exec_attributes({}) == {"privileged": "false", "user": ""}


def _event(action: str, **attrs: str) -> bytes:
    actor = {"ID": CID, "Attributes": {"name": "web", "image": "debian", "execID": EXEC_ID, "team": CANARY, **attrs}}
    return json.dumps({"Type": "container", "Action": action, "Actor": actor, "time": 1, "timeNano": 1}).encode()


@pytest.mark.parametrize("action", ["exec_create", "exec_start"])
def test_exec_events_pass_cut_at_the_command_with_privileged_and_user(action: str) -> None:
    asked: list[str] = []

    def facts(exec_id: str) -> dict[str, str]:
        asked.append(exec_id)
        return {"privileged": "true", "user": "root", "command": CANARY}  # anything else it says is dropped

    out = filter_event(_event(f"{action}: sh -c echo {CANARY}"), facts)
    assert out is not None and CANARY.encode() not in out
    doc = json.loads(out)
    assert doc["Action"] == action and asked == [EXEC_ID]
    assert doc["Actor"]["Attributes"] == {
        "name": "web",
        "image": "debian",
        "execID": EXEC_ID,
        "privileged": "true",
        "user": "root",
    }


def test_exec_die_and_malformed_exec_events() -> None:
    out = filter_event(_event("exec_die", exitCode="0"), lambda _: pytest.fail("exec_die needs no inspect"))
    assert out is not None and json.loads(out)["Actor"]["Attributes"]["exitCode"] == "0"
    assert filter_event(_event("exec_start: x", execID="../../x")) is None  # no exec id: nothing to key it on
    assert filter_event(_event("exec_detach")) is None and filter_event(_event("exec_created: x")) is None


def test_top_and_exec_routes() -> None:
    assert sp.match_route("GET", f"/v1.41/containers/{CID}/top") == ("top", "ok")
    assert sp.match_route("HEAD", "/containers/web_1/top") == ("top", "ok")
    assert sp.match_route("GET", f"/exec/{EXEC_ID}/json") == ("exec", "ok")
    for target in (
        f"/containers/{CID}/top?ps_args=eww",  # `ps e` prints environments: never to the engine
        f"/containers/{CID}/top?ps_args=-ef",
        "/exec/abc/json",
        f"/exec/{EXEC_ID}/start",
        f"/exec/{EXEC_ID}/resize",
    ):
        assert sp.match_route("GET", target)[0] is None, target
    assert sp.match_route("POST", f"/exec/{EXEC_ID}/start")[0] is None


class ProcessEngine(BaseHTTPRequestHandler):
    """An engine that answers top and exec inspect with the canary where Docker puts it."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def do_GET(self) -> None:
        ProcessEngine.seen.append(self.path)
        if "/top" in self.path:
            body = TOP_COMM if "ps_args=-o%20pid,comm" in self.path else TOP_EF
        elif "/exec/" in self.path:
            body = EXEC
        else:
            body = {"message": "not here"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def proxy() -> Iterator[tuple[str, int]]:
    ProcessEngine.seen.clear()
    yield from _serve_proxy(ProcessEngine)


def _get(addr: tuple[str, int], path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*addr, timeout=5)
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_the_real_proxy_passes_names_and_exec_facts_never_the_canary(proxy: tuple[str, int]) -> None:
    status, body = _get(proxy, f"/v1.41/containers/{CID}/top")
    assert status == 200 and json.loads(body) == {"Titles": ["COMMAND"], "Processes": [["sh"], ["sshd"], ["bash"]]}
    assert ProcessEngine.seen == [f"/v1.41/containers/{CID}/top?ps_args=-o%20pid,comm"]
    status, body = _get(proxy, f"/exec/{EXEC_ID}/json")
    assert status == 200 and CANARY.encode() not in body
    assert json.loads(body)["ProcessConfig"] == {"privileged": True, "user": "root"}
    status, body = _get(proxy, f"/containers/{CID}/top?ps_args=eww")
    assert status == 403 and len(ProcessEngine.seen) == 2  # refused before the engine

"""The socket proxy's allow-list and filtering, unit-level and against a real unix-socket server."""

from __future__ import annotations

import http.client
import json
import os
import re
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import socket_proxy as sp

from tests.support.pki import Issued, TestPKI

CID = "b07497b828312718a00095713261b655ebd163a72d066f91a72f1a06dd0f5245"
EXEC_ID = "9c2e11b7a4d35f6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"


@pytest.mark.parametrize(
    ("method", "target", "route"),
    [
        ("GET", "/_ping", "ping"),
        ("HEAD", "/_ping", "ping"),
        ("GET", "/v1.41/_ping", "ping"),
        ("GET", "/version", "version"),
        ("GET", "/v1.45/version", "version"),
        ("GET", "/containers/json", "list"),
        ("GET", "/v1.41/containers/json?all=1&limit=5", "list"),
        ("GET", "/containers/json?all=1&size=0&trunc_cmd=0", "list"),
        ("GET", f"/containers/{CID}/json", "inspect"),
        ("GET", "/v1.41/containers/web_1/json", "inspect"),
    ],
)
def test_allowed(method: str, target: str, route: str) -> None:
    assert sp.match_route(method, target) == (route, "ok")


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/containers/create"),
        ("POST", f"/containers/{CID}/start"),
        ("POST", f"/containers/{CID}/stop"),
        ("POST", f"/containers/{CID}/exec"),
        ("POST", "/build"),
        ("DELETE", f"/containers/{CID}"),
        ("GET", f"/containers/{CID}/archive?path=/"),
        ("GET", f"/containers/{CID}/export"),
        ("GET", f"/containers/{CID}/logs?stdout=1"),
        ("GET", f"/v1.41/containers/{CID}/logs"),
        ("GET", "/images/json"),
        ("GET", "/info"),
        ("GET", "/secrets"),
        ("GET", "/containers/json?size=1"),
        ("GET", "/containers/json?size=true"),
        ("GET", "/containers/json?before=x"),
        ("GET", f"/containers/{CID}/json?size=1"),
        ("GET", f"/containers/{CID}/json/../logs"),
        ("GET", f"/containers%2F{CID}%2Flogs"),
        ("GET", "//containers/json"),
        ("GET", "/v1.41/../containers/x/logs"),
        ("PUT", f"/containers/{CID}/archive"),
        ("GET", "/containers/../../etc/passwd/json"),
    ],
)
def test_refused(method: str, target: str) -> None:
    route, reason = sp.match_route(method, target)
    assert route is None and reason


def test_redact_inspect_drops_secrets_and_keeps_security_fields() -> None:
    doc = {
        "Id": CID,
        "Path": "/bin/app",
        "Args": ["--password=hunter2"],
        "Config": {
            "Env": ["TOKEN=hunter2"],
            "Cmd": ["--password=hunter2"],
            "Entrypoint": ["/bin/app"],
            "User": "10001",
            "Healthcheck": {"Test": ["CMD-SHELL", "curl -u admin:hunter2 localhost"]},
        },
        "HostConfig": {"CapDrop": ["ALL"], "LogConfig": {"Type": "splunk", "Config": {"splunk-token": "hunter2"}}},
        "GraphDriver": {"Data": {"MergedDir": "/var/lib/docker/overlay2/x/merged"}},
    }
    out = sp.redact_inspect(doc)
    assert "hunter2" not in json.dumps(out)
    assert out["Config"]["User"] == "10001" and out["HostConfig"]["CapDrop"] == ["ALL"]
    assert out["Config"]["Healthcheck"]["Test"][0] == "CMD-SHELL"


def test_redact_keeps_disabled_healthcheck_and_list_drops_command() -> None:
    none = sp.redact_inspect({"Config": {"Healthcheck": {"Test": ["NONE"]}}})
    assert none["Config"]["Healthcheck"]["Test"] == ["NONE"]
    listing = sp.redact_list([{"Id": CID, "Command": "app --password=hunter2", "Image": "x"}])
    assert listing == [{"Id": CID, "Image": "x"}]


class FakeEngine(BaseHTTPRequestHandler):
    """A recorded Docker engine on a unix socket; records what reached it."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        FakeEngine.seen.append(("GET", self.path))
        if "/containers/json" in self.path:
            body = json.dumps([{"Id": CID, "Command": "app --password=hunter2", "Names": ["/web"]}])
        elif "/exec/" in self.path:
            process = {"entrypoint": "sh", "arguments": ["-c", "echo hunter2"], "privileged": False, "user": "nobody"}
            body = json.dumps({"ID": EXEC_ID, "ContainerID": CID, "ProcessConfig": process})
        elif self.path.endswith("/json"):
            body = json.dumps({"Id": CID, "Config": {"Env": ["TOKEN=hunter2"], "User": "1"}, "Args": ["hunter2"]})
        elif self.path.endswith("/version"):
            body = json.dumps({"Version": "fake", "ApiVersion": "1.41"})
        else:
            body = "OK"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _serve_proxy(engine_class: type) -> Iterator[tuple[str, int]]:
    """The real proxy on 127.0.0.1 in front of a fake engine (``engine_class``) on a unix socket."""
    tmp = tempfile.mkdtemp()
    sock_path = os.path.join(tmp, "docker.sock")

    class Handler(engine_class):  # type: ignore[valid-type, misc]
        def address_string(self) -> str:
            return "unix"

    engine = UnixServer(sock_path, Handler)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    sp.ProxyHandler.socket_path = sock_path
    server = sp.Server(("127.0.0.1", 0), sp.ProxyHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeEngine.seen.clear()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    engine.shutdown()


@pytest.fixture()
def proxy() -> Iterator[tuple[str, int]]:
    yield from _serve_proxy(FakeEngine)


def _call(addr: tuple[str, int], method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection(*addr, timeout=5)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    return resp.status, resp.read(), dict(resp.getheaders())


def test_forwards_and_filters_for_real(proxy: tuple[str, int]) -> None:
    status, body, headers = _call(proxy, "GET", f"/v1.41/containers/{CID}/json")
    assert status == 200 and b"hunter2" not in body and json.loads(body)["Config"] == {"User": "1"}
    assert headers["Api-Version"] == "1.41"
    status, body, _ = _call(proxy, "GET", "/v1.41/containers/json?all=1")
    assert status == 200 and b"hunter2" not in body and json.loads(body)[0]["Names"] == ["/web"]
    status, body, _ = _call(proxy, "HEAD", "/_ping")
    assert status == 200 and body == b""


def test_refusals_never_reach_the_engine(proxy: tuple[str, int]) -> None:
    for method, path in [
        ("POST", "/containers/create"),
        ("GET", f"/containers/{CID}/logs"),
        ("GET", f"/containers/{CID}/archive?path=/"),
        ("DELETE", f"/containers/{CID}"),
    ]:
        status, body, _ = _call(proxy, method, path, b"{}" if method == "POST" else None)
        assert status == 403 and b"socket-proxy" in body, path
    status, _, _ = _call(proxy, "GET", "/_ping", b"smuggled")
    assert status == 403
    assert FakeEngine.seen == []


def test_engine_down_is_502(proxy: tuple[str, int]) -> None:
    sp.ProxyHandler.socket_path = "/nonexistent/docker.sock"
    status, body, _ = _call(proxy, "GET", "/_ping")
    assert status == 502 and b"unreachable" in body


# --- mutual TLS ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Issued]:
    base = tmp_path_factory.mktemp("pki")
    ours = TestPKI(base / "ours")
    return {
        "server": ours.issue("socket-proxy", server=True, sans=("DNS:localhost", "IP:127.0.0.1")),
        "client": ours.issue("inventory-api"),
        "rogue": TestPKI(base / "rogue", name="someone-else").issue("inventory-api"),
    }


@pytest.fixture()
def tls_proxy(proxy: tuple[str, int], pki: dict[str, Issued]) -> Iterator[tuple[str, int]]:
    """The same proxy code with mutual TLS on, in front of the recorded engine of ``proxy``."""
    ours = pki["server"]
    env = {"TLS_CERT_FILE": str(ours.cert), "TLS_KEY_FILE": str(ours.key), "TLS_CA_FILE": str(ours.ca)}
    server = sp.Server(("127.0.0.1", 0), sp.ProxyHandler)
    server.tls = sp.tls_from_env(env)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()


def _tls_call(addr: tuple[str, int], pki: dict[str, Issued], client: str | None, path: str = "/_ping") -> int:
    ctx = ssl.create_default_context(cafile=str(pki["server"].ca))
    if client is not None:
        ctx.load_cert_chain(str(pki[client].cert), str(pki[client].key))
    conn = http.client.HTTPSConnection(*addr, timeout=5, context=ctx)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_mtls_forwards_for_a_client_certificate_from_the_ca(tls_proxy: tuple[str, int], pki: dict) -> None:
    assert _tls_call(tls_proxy, pki, "client") == 200
    assert _tls_call(tls_proxy, pki, "client", "/v1.41/containers/json") == 200
    assert _tls_call(tls_proxy, pki, "client", f"/containers/{CID}/logs") == 403  # the allow-list still applies
    assert FakeEngine.seen == [("GET", "/_ping"), ("GET", "/v1.41/containers/json")]


@pytest.mark.parametrize("client", [None, "rogue"], ids=["no-client-cert", "cert-from-another-ca"])
def test_mtls_refuses_clients_without_a_valid_certificate(
    tls_proxy: tuple[str, int], pki: dict, client: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls_call(tls_proxy, pki, client)
    assert FakeEngine.seen == []
    # The proxy logs from its connection thread, which may finish just after the client gave up.
    out, deadline = "", time.monotonic() + 5
    while '"message": "tls handshake refused"' not in out and time.monotonic() < deadline:
        time.sleep(0.05)
        out += capsys.readouterr().out
    assert '"message": "tls handshake refused"' in out


def test_mtls_refuses_plain_http(tls_proxy: tuple[str, int]) -> None:
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        _call(tls_proxy, "GET", "/_ping")
    assert FakeEngine.seen == []


def test_tls_settings_are_all_or_nothing(pki: dict) -> None:
    assert sp.tls_from_env({}) is None
    with pytest.raises(sp.ConfigError, match="missing TLS_KEY_FILE, TLS_CA_FILE"):
        sp.tls_from_env({"TLS_CERT_FILE": str(pki["server"].cert)})
    with pytest.raises(sp.ConfigError, match="cannot load the TLS files"):
        sp.tls_from_env({"TLS_CERT_FILE": "/nonexistent.pem", "TLS_KEY_FILE": "/nonexistent.pem", "TLS_CA_FILE": "/x"})


# --- the event stream ------------------------------------------------------------------------------------------------

CANARY = "CANARY-exec-hunter2"
CONTAINER_FILTER = "filters=%7B%22type%22%3A%5B%22container%22%5D%7D"


def _event(action: str, **attrs: str) -> bytes:
    doc = {
        "status": action,
        "id": CID,
        "from": "debian:12",
        "Type": "container",
        "Action": action,
        "Actor": {"ID": CID, "Attributes": {"name": "web", "image": "debian:12", **attrs}},
        "scope": "local",
        "time": 1795641894,
        "timeNano": 1795641894099559659,
    }
    return json.dumps(doc).encode() + b"\n"


ENGINE_EVENTS = [
    _event("create", **{"com.example.secret-label": CANARY}),
    _event("start"),
    _event(f"exec_create: sh -c echo {CANARY}", execID=EXEC_ID),
    _event(f"exec_start: sh -c echo {CANARY}", execID=EXEC_ID),
    _event("exec_die", execID=EXEC_ID, exitCode="0"),
    _event(f"exec_start: sh -c echo {CANARY}", execID="e1"),  # not an exec id: dropped
    _event("attach"),
    _event("health_status: healthy"),
    _event("die", exitCode="137", execDuration="3"),
    b'{"Type":"network","Action":"connect","Actor":{"ID":"n1","Attributes":{"container":"x"}}}\n',
    b"garbage that is not json\n",
    _event("destroy"),
]


@pytest.mark.parametrize(
    "target",
    [
        f"/events?{CONTAINER_FILTER}",
        f"/v1.41/events?since=1795641894.000000000&{CONTAINER_FILTER}",
        "/events?filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D",
        "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22start%22%2C%22die%22%5D%7D",
    ],
)
def test_events_allowed_only_for_containers(target: str) -> None:
    assert sp.match_route("GET", target) == ("events", "ok")


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/events"),
        ("GET", "/events?filters=%7B%7D"),
        ("GET", "/events?filters=%7B%22type%22%3A%5B%22image%22%5D%7D"),
        ("GET", "/events?filters=%7B%22type%22%3A%5B%22container%22%2C%22image%22%5D%7D"),
        ("GET", "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22attach%22%5D%7D"),
        ("GET", "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22label%22%3A%5B%22a%22%5D%7D"),
        ("GET", f"/events?since=yesterday&{CONTAINER_FILTER}"),
        ("GET", f"/events?{CONTAINER_FILTER}&{CONTAINER_FILTER}"),
        ("GET", f"/events?{CONTAINER_FILTER}&stream=1"),
        ("HEAD", f"/events?{CONTAINER_FILTER}"),
        ("POST", f"/events?{CONTAINER_FILTER}"),
    ],
)
def test_events_refused(method: str, target: str) -> None:
    route, reason = sp.match_route(method, target)
    assert route is None and reason


LIFECYCLE = ["create", "start", "health_status: healthy", "die", "destroy"]


def test_filter_event_passes_lifecycle_with_safe_attributes_only() -> None:
    passed = [sp.filter_event(line.rstrip(b"\n")) for line in ENGINE_EVENTS]
    docs = [json.loads(p) for p in passed if p is not None]
    assert [d["Action"] for d in docs] == [*LIFECYCLE[:2], "exec_create", "exec_start", "exec_die", *LIFECYCLE[2:]]
    assert docs[0]["Actor"]["Attributes"] == {"name": "web", "image": "debian:12"}
    assert docs[4]["Actor"]["Attributes"] == {"name": "web", "image": "debian:12", "execID": EXEC_ID, "exitCode": "0"}
    assert docs[6]["Actor"]["Attributes"] == {"name": "web", "image": "debian:12", "exitCode": "137"}
    assert all(CANARY not in p.decode() for p in passed if p is not None)


class EventEngine(FakeEngine):
    """Streams ENGINE_EVENTS like dockerd answers an HTTP/1.0 /events request, then waits for the client to go."""

    closed = threading.Event()

    def do_GET(self) -> None:
        if not self.path.split("?")[0].endswith("/events"):
            super().do_GET()
            return
        FakeEngine.seen.append(("GET", self.path))
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n\r\n")
        for line in ENGINE_EVENTS:
            self.wfile.write(line)
            self.wfile.flush()
        # Hold the stream open like a quiet engine until the proxy closes its side.
        self.connection.settimeout(10)
        try:
            while self.connection.recv(1):
                pass
        except OSError:
            pass
        EventEngine.closed.set()


@pytest.fixture()
def event_proxy() -> Iterator[tuple[str, int]]:
    EventEngine.closed.clear()
    yield from _serve_proxy(EventEngine)


def test_event_stream_is_relayed_filtered_and_chunked(event_proxy: tuple[str, int]) -> None:
    conn = http.client.HTTPConnection(*event_proxy, timeout=5)
    conn.request("GET", f"/v1.41/events?{CONTAINER_FILTER}")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    lines = [resp.readline() for _ in range(8)]
    docs = [json.loads(line) for line in lines]
    assert [d["Action"] for d in docs] == [*LIFECYCLE[:2], "exec_create", "exec_start", "exec_die", *LIFECYCLE[2:]]
    assert all(CANARY.encode() not in line and b"hunter2" not in line for line in lines)
    # exec_create/exec_start carry privileged and user from the proxy's own exec inspect, never its command
    assert docs[3]["Actor"]["Attributes"] == {
        "name": "web", "image": "debian:12", "execID": EXEC_ID, "privileged": "false", "user": "nobody",
    }  # fmt: skip
    assert FakeEngine.seen == [("GET", f"/v1.41/events?{CONTAINER_FILTER}"), *[("GET", f"/exec/{EXEC_ID}/json")] * 2]
    conn.close()  # the client goes away: the proxy must close the engine side too
    assert EventEngine.closed.wait(5)


def test_the_image_gets_every_module_and_each_stays_small() -> None:
    """The proxy is several modules copied side by side (Dockerfile COPY): a module left out breaks the image's
    imports, which only the image would show. Each module stays under ~300 lines (the developers' guide)."""
    here = Path(sp.__file__).parent
    modules = {p.name for p in here.glob("*.py")}
    (copy,) = re.findall(r"^COPY (.+) /opt/socket-proxy/$", (here / "Dockerfile").read_text(), re.M)
    assert set(copy.split()) == modules
    for name in modules:
        assert len((here / name).read_text().splitlines()) <= 300, name

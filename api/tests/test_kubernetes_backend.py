"""Kubernetes backend at the HTTP boundary.

No API server runs on this machine, so a real HTTP server on 127.0.0.1 replays API-server
responses in the exact wire shapes (fixtures/k8s: paginated PodList with init, ephemeral,
pending, crash-looping and terminated containers; chunked watch streams with MODIFIED /
DELETED / ADDED / BOOKMARK events; a 410 Gone ERROR event). The official kubernetes client
does the HTTP, so paths, query parameters, pagination and the watch protocol are real.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from inventory import create_app, posture
from inventory.backends.kubernetes import KubernetesBackend, runtime_id
from inventory.fleet.config import SourceConfig
from inventory.model import BackendUnavailable, NotFound
from inventory.wiring import Configured, configure

FIXTURES = Path(__file__).parent / "fixtures" / "k8s"
CLOSE = object()
API_ID = "3f9c1b2a7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
WEB_ID = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
INIT_ID = "a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8"
DEBUG_ID = "dbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdbdb"
JOB_ID = "b4c4a9b4c4a9b4c4a9b4c4a9b4c4a9b4c4a9b4c4a9b4c4a9b4c4a9b4c4a9b4c4"
CRASH_ID = "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface"
PENDING_ID = "shop.report-5c8f6d7b9-qq7zs.report"
REPORT_ID = "5151515151515151515151515151515151515151515151515151515151515151"


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


class FakeApiServer:
    """Serves /version, pod lists (with continue tokens) and chunked pod watches like kube-apiserver."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.watch_events: queue.Queue[object] = queue.Queue()
        self.pages = [_load("podlist-page1.json"), _load("podlist-page2.json")]
        self.stopping = threading.Event()
        self.connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for conn in self.connections:  # kept-alive client connections must die with the "API server" too
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def list_requests(self) -> list[dict[str, list[str]]]:
        return [q for path, q in self.requests if path.endswith("/pods") and q.get("watch") != ["true"]]

    def watch_requests(self) -> list[dict[str, list[str]]]:
        return [q for path, q in self.requests if path.endswith("/pods") and q.get("watch") == ["true"]]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                fake.connections.append(self.connection)

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                url = url._replace(path=url.path.rstrip("/") or "/")
                query = parse_qs(url.query)
                fake.requests.append((url.path, query))
                parts = url.path.strip("/").split("/")
                if url.path == "/version":
                    return self._json(200, _load("version.json"))
                if url.path == "/api/v1/pods" or (
                    len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods"
                ):
                    namespace = parts[3] if len(parts) == 5 else None
                    if query.get("watch") == ["true"]:
                        return self._watch(namespace)
                    return self._list(namespace, query)
                return self._json(
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": 404,
                        "reason": "NotFound",
                        "message": f"the server could not find {url.path}",
                    },
                )

            def _list(self, namespace: str | None, query: dict[str, list[str]]) -> None:
                page = fake.pages[1] if query.get("continue") and len(fake.pages) > 1 else fake.pages[0]
                body = dict(
                    page,
                    items=[i for i in page["items"] if namespace is None or i["metadata"]["namespace"] == namespace],
                )
                self._json(200, body)

            def _watch(self, namespace: str | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while not fake.stopping.is_set():
                    try:
                        item = fake.watch_events.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if item is CLOSE:
                        break
                    data = (str(item) + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def apiserver():
    server = FakeApiServer().start()
    yield server
    server.stop()


def _source(url: str, namespaces: tuple[str, ...] = (), timeout: float = 2.0) -> SourceConfig:
    return SourceConfig(name="local", kind="kubernetes", timeout=timeout, api_url=url, namespaces=namespaces)


def _config(url: str) -> Configured:
    return configure({"INVENTORY_BACKEND": "kubernetes", "K8S_API_URL": url, "ENGINE_TIMEOUT": "2", "CACHE_TTL": "0"})


@pytest.fixture
def backend(apiserver):
    be = KubernetesBackend(_source(apiserver.url))
    yield be
    be.close()
    apiserver.watch_events.put(CLOSE)


def _by_id(be: KubernetesBackend, include_stopped: bool = True) -> dict[str, Any]:
    return {c.id: c for c in be.list_containers(include_stopped)}


def test_runtime_id_strips_the_runtime_scheme():
    assert runtime_id("containerd://abc123") == "abc123"
    assert runtime_id("cri-o://abc123") == "abc123"
    assert runtime_id("") is None
    assert runtime_id(None) is None


def test_lists_every_container_kind_from_a_paginated_list(apiserver, backend):
    items = _by_id(backend)
    assert set(items) == {API_ID, WEB_ID, INIT_ID, DEBUG_ID, CRASH_ID, PENDING_ID, JOB_ID}
    # the client followed the continue token of page 1, with a bounded page size
    lists = apiserver.list_requests()
    assert [q.get("continue") is not None for q in lists] == [False, True]
    assert all(q["limit"] == ["500"] for q in lists)

    api = items[API_ID]
    assert (api.namespace, api.pod, api.node, api.restart_count) == (
        "inventory",
        "flask-api-6d5f7c9b8-x2kqp",
        "node-a",
        0,
    )
    assert api.names == ["inventory/flask-api-6d5f7c9b8-x2kqp/flask-api"]
    assert api.state == "running" and api.health == "healthy" and api.started_at == "2026-11-20T09:12:47Z"
    assert api.image_id.endswith("@sha256:4f8a3c2b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a")
    assert api.labels["app.kubernetes.io/name"] == "flask-api"

    assert items[INIT_ID].state == "exited" and items[INIT_ID].status == "Terminated: Completed (exit 0)"
    assert items[DEBUG_ID].state == "running" and items[DEBUG_ID].image == "busybox"
    assert items[WEB_ID].restart_count == 4 and items[WEB_ID].ports[0].public_port == 80
    assert items[CRASH_ID].state == "restarting" and items[CRASH_ID].restart_count == 12
    assert items[JOB_ID].state == "exited" and "exit 1" in items[JOB_ID].status
    pending = items[PENDING_ID]
    assert (pending.state, pending.status, pending.node, pending.image_id) == ("created", "Pending", None, "")


def test_default_listing_is_running_containers_only(backend):
    assert set(_by_id(backend, include_stopped=False)) == {API_ID, WEB_ID, DEBUG_ID}


def test_security_of_a_hardened_pod_has_no_findings(backend):
    detail = backend.inspect(API_ID)
    sec = detail.security
    assert sec.user == "10001:10001"
    assert sec.read_only_rootfs and sec.no_new_privileges and sec.cap_drop == ["ALL"] and sec.cap_add == []
    assert sec.memory_limit_bytes == 256 * 1024 * 1024 and sec.cpu_limit == 0.5
    assert sec.healthcheck and sec.image_pinned_by_digest and not sec.image_mutable_tag
    assert {m.type for m in sec.mounts} == {"emptyDir", "secret", "projected"}
    assert not any(m.docker_socket for m in sec.mounts)
    assert _rules(sec) == set()


def test_security_of_a_risky_pod_maps_to_posture_rules(backend):
    sec = backend.inspect(WEB_ID).security
    assert sec.user == "" and sec.privileged and sec.host_network and sec.host_pid and sec.host_ipc
    assert sec.cap_add == ["NET_ADMIN", "SYS_TIME"] and not sec.no_new_privileges
    sock = next(m for m in sec.mounts if m.destination == "/var/run/docker.sock")
    assert (sock.type, sock.source, sock.docker_socket, sock.read_only) == (
        "hostPath",
        "/var/run/docker.sock",
        True,
        False,
    )
    logs = next(m for m in sec.mounts if m.destination == "/var/log/nginx")
    assert logs.read_only and not logs.docker_socket
    assert sec.cpu_limit == 2.0 and sec.memory_limit_bytes is None
    rules = _rules(sec)
    catalog_v1 = {  # this pod breaks every rule of the first catalog; the v2 rules have fixtures in test_catalog
        "privileged", "docker-socket-mounted", "run-as-root", "host-network", "host-pid", "added-capabilities",
        "writable-rootfs", "no-memory-limit", "privilege-escalation", "no-healthcheck", "mutable-image-tag",
    }  # fmt: skip
    assert catalog_v1 <= rules


def test_container_user_overrides_pod_user_and_run_as_non_root_counts(backend):
    assert backend.inspect(JOB_ID).security.user == "0"  # container runAsUser 0 beats pod runAsUser 1000
    assert "run-as-root" in _rules(backend.inspect(JOB_ID).security)
    pending = backend.inspect(PENDING_ID).security
    assert pending.user == "non-root" and pending.image_mutable_tag is False
    # One probe only: catalog v2 asks for liveness AND readiness, as the admission policy always did.
    assert not pending.healthcheck
    assert "run-as-root" not in _rules(pending)


def test_trimmed_cache_never_holds_env_or_command(backend):
    backend.list_containers(True)
    cached = json.dumps([informer.pods() for informer in backend._informers])
    assert "must-not-appear" not in cached and "/migrate" not in cached and "managedFields" not in cached


def test_inspect_unknown_id_is_not_found(backend):
    with pytest.raises(NotFound):
        backend.inspect("0" * 64)


def test_listing_costs_no_api_call_per_request_or_pod(apiserver, backend):
    for _ in range(20):
        backend.list_containers(True)
    for cid in _by_id(backend):
        backend.inspect(cid)
    assert len(apiserver.list_requests()) == 2  # the two pages of the initial list, nothing since
    _wait(lambda: len(apiserver.watch_requests()) >= 1)
    assert apiserver.watch_requests()[0]["resourceVersion"] == ["48500"]
    assert apiserver.watch_requests()[0]["allowWatchBookmarks"] == ["true"]


def test_watch_events_update_the_cache(apiserver, backend):
    backend.list_containers(True)
    _wait(lambda: len(apiserver.watch_requests()) == 1)
    for line in _lines("watch-events.jsonl"):
        apiserver.watch_events.put(line)
    _wait(lambda: REPORT_ID in _by_id(backend))
    _wait(lambda: JOB_ID not in _by_id(backend))
    _wait(lambda: "inventory.worker-79c6d8f5b-zz9aa.worker" in _by_id(backend))
    items = _by_id(backend)
    assert PENDING_ID not in items and items[REPORT_ID].node == "node-a" and items[REPORT_ID].state == "running"
    # the stream ends (server timeout): the informer re-watches from the bookmark's resourceVersion, no relist
    _wait(lambda: backend._informers[0].resource_version == "48530")
    apiserver.watch_events.put(CLOSE)
    _wait(lambda: len(apiserver.watch_requests()) == 2)
    assert apiserver.watch_requests()[1]["resourceVersion"] == ["48530"]
    assert len(apiserver.list_requests()) == 2


def test_410_gone_relists(apiserver, backend):
    backend.list_containers(True)
    _wait(lambda: len(apiserver.watch_requests()) == 1)
    apiserver.pages = [_load("podlist-after-gone.json")]
    apiserver.watch_events.put(_lines("watch-gone.jsonl")[0])
    _wait(lambda: len(apiserver.list_requests()) == 3)
    _wait(lambda: _by_id(backend).get(CRASH_ID) is not None and _by_id(backend)[CRASH_ID].state == "running")
    items = _by_id(backend)
    assert items[CRASH_ID].restart_count == 13 and JOB_ID not in items and PENDING_ID not in items
    _wait(lambda: len(apiserver.watch_requests()) == 2)
    assert apiserver.watch_requests()[1]["resourceVersion"] == ["48600"]


def test_namespaces_are_watched_separately(apiserver):
    be = KubernetesBackend(_source(apiserver.url, ("inventory", "shop")))
    try:
        items = _by_id(be)
        assert {c.namespace for c in items.values()} == {"inventory", "shop"}
        paths = {path for path, q in apiserver.requests if path.endswith("/pods")}
        assert paths == {"/api/v1/namespaces/inventory/pods", "/api/v1/namespaces/shop/pods"}
    finally:
        be.close()
        apiserver.watch_events.put(CLOSE)
        apiserver.watch_events.put(CLOSE)


def test_ping_reports_version_and_raises_when_api_server_is_down(apiserver, backend):
    assert backend.ping() == {"engine": "kubernetes", "version": "v1.33.5", "api_version": "1.33"}
    apiserver.stop()
    with pytest.raises(BackendUnavailable):
        backend.ping()


def test_listing_fails_clearly_when_the_api_server_never_answered():
    be = KubernetesBackend(_source("http://127.0.0.1:9", timeout=0.5))
    try:
        with pytest.raises(BackendUnavailable, match=r"unreachable|not synced"):
            be.list_containers(True)
        with pytest.raises(BackendUnavailable):
            be.ping()
    finally:
        be.close()


def test_listing_fails_once_the_api_server_goes_away(apiserver, backend):
    assert backend.list_containers(True)
    apiserver.stop()  # ends the watch; reconnect and relist fail
    _wait(lambda: not backend._informers[0].healthy)
    with pytest.raises(BackendUnavailable):
        backend.list_containers(True)


def test_flask_app_serves_the_kubernetes_inventory(apiserver, backend, clock):
    app = create_app(_config(apiserver.url), backend)
    http = app.test_client()
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["backend"]["engine"] == "kubernetes"

    listing = http.get("/api/containers?all=true&limit=1000")
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["backend"] == "kubernetes" and body["total"] == 7
    assert {c["id"] for c in body["items"]} >= {API_ID, INIT_ID, DEBUG_ID, PENDING_ID}

    one = http.get(f"/api/containers/{WEB_ID}")
    assert one.status_code == 200
    doc = one.get_json()
    assert (doc["container"]["namespace"], doc["container"]["pod"]) == ("shop", "legacy-web-0")
    assert doc["security"]["privileged"] is True
    assert "docker-socket-mounted" in {f["rule"] for f in doc["findings"]}
    by_name = http.get("/api/containers/inventory/flask-api-6d5f7c9b8-x2kqp/flask-api")
    assert by_name.status_code == 200 and API_ID in by_name.get_data(as_text=True)

    report = http.get("/api/posture").get_json()
    by_container = {c["id"]: {f["rule"] for f in c["findings"]} for c in report["containers"]}
    assert by_container[API_ID] == set() and "privileged" in by_container[WEB_ID]
    assert report["totals"]["CRITICAL"] >= 2

    # Readiness follows the informer: once the watch broke and the relist failed the last good state is served,
    # marked stale, for the grace period (LIVE_STALE_GRACE, 15 s by default); then it turns 503.
    apiserver.stop()
    _wait(lambda: http.get("/readyz").get_json().get("synced") is False)
    stale = http.get("/api/containers?all=true&limit=1000")
    assert stale.status_code == 200 and stale.get_json()["stale"] is True and stale.get_json()["total"] == 7
    clock.advance(16)
    down = http.get("/readyz")
    assert down.status_code == 503 and down.content_type.startswith("application/problem+json")


def _rules(sec):
    return {r.id for r in posture.violated(sec, "kubernetes")}


def test_live_state_follows_the_informer_and_wakes_waiters(apiserver, backend):
    from inventory.fleet.config import LiveTimings
    from inventory.live import KubernetesLiveState, make_live_state

    live = make_live_state(backend, _source(apiserver.url), LiveTimings(cache_ttl=0.0, resync_interval=60.0))
    assert isinstance(live, KubernetesLiveState)
    live.start()
    _wait(lambda: live.snapshot().synced)
    first = live.snapshot()
    assert len(first.containers) == 7 and set(first.details) == {c.id for c in first.containers}
    assert live.snapshot().version == first.version  # nothing changed: same snapshot, no rebuild
    _wait(lambda: len(apiserver.watch_requests()) == 1)
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(live.wait_for_change(first.version, 5)))
    waiter.start()
    for line in _lines("watch-events.jsonl"):
        apiserver.watch_events.put(line)
    waiter.join(6)
    assert woke and woke[0] > first.version
    _wait(lambda: REPORT_ID in live.snapshot().by_id and JOB_ID not in live.snapshot().by_id)
    apiserver.stop()  # the watch breaks and the relist fails: the state turns unsynced
    _wait(lambda: not live.snapshot().synced)
    assert live.snapshot().error

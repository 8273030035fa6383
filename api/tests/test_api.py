"""The HTTP contract through the real Flask app and the real normalisation code."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import RecordedBackend, make_app
from inventory.openapi import spec
from inventory.posture import RULES

SPEC = spec("test")


def validate(body: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def test_list_running_only_by_default(client: Any) -> None:
    resp = client.get("/api/containers", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    body = resp.get_json()
    assert resp.status_code == 200 and body["total"] == 2 and body["client_ip"] == "10.1.2.3"
    validate(body, "ContainerList")
    assert [c["state"] for c in body["items"]] == ["running", "running"]
    assert resp.headers["Cache-Control"] == "public, max-age=1"


def test_all_filters_and_labels(client: Any) -> None:
    assert client.get("/api/containers?all=true").get_json()["total"] == 3
    assert client.get("/api/containers?state=exited").get_json()["items"][0]["name"] == "legacy-db"
    assert client.get("/api/containers?label=tier=db&all=1").get_json()["total"] == 1
    assert client.get("/api/containers?label=tier=web&all=1").get_json()["total"] == 0
    both = "/api/containers?label=com.docker.compose.project&label=com.docker.compose.service=nginx-proxy"
    assert [c["name"] for c in client.get(both).get_json()["items"]] == ["inventory_nginx-proxy_1"]
    assert client.get("/api/containers?image=socket").get_json()["total"] == 1
    assert client.get("/api/containers?name=nginx").get_json()["total"] == 1


def test_pagination_is_stable_and_complete(client: Any) -> None:
    seen, cursor = [], None
    while True:
        url = "/api/containers?all=true&limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).get_json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == 3


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=1001", "limit"),
        ("all=perhaps", "all"),
        ("state=sleeping", "state"),
        ("cursor=%%%", "cursor"),
        ("label==x", "label"),
        ("colour=red", "colour"),
        ("name=", "name"),
        ("limit=1&limit=2", "limit"),
    ],
)
def test_bad_query_is_400_naming_the_parameter(client: Any, query: str, parameter: str) -> None:
    resp = client.get(f"/api/containers?{query}")
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["parameter"] == parameter and body["type"].endswith("/invalid-parameter")
    validate(body, "Problem")


def test_detail_by_prefix_name_and_errors(client: Any, backend: RecordedBackend) -> None:
    resp = client.get("/api/containers/9f1c3e")
    body = resp.get_json()
    assert resp.status_code == 200
    validate(body, "ContainerDetail")
    assert body["container"]["name"] == "legacy-db" and body["totals"]["CRITICAL"] == 2
    assert client.get("/api/containers/legacy-db").get_json()["container"]["id"].startswith("9f1c3e")
    assert client.get("/api/containers/nope").status_code == 404
    backend.listing.append(dict(backend.listing[0], Id="b07497" + "0" * 58, Names=["/twin"]))
    ambiguous = client.get("/api/containers/b07497")
    assert ambiguous.status_code == 409 and len(ambiguous.get_json()["matches"]) == 2
    assert "Env" not in resp.get_data(as_text=True)


def test_posture_report(client: Any) -> None:
    body = client.get("/api/posture?all=true").get_json()
    validate(body, "Posture")
    by_name = {c["name"]: c for c in body["containers"]}
    rules = {f["rule"] for f in by_name["legacy-db"]["findings"]}
    assert {"privileged", "docker-socket-mounted", "run-as-root", "host-network", "host-pid"} <= rules
    docker_rules = [r for r in RULES if "docker" in r.backends]
    assert body["totals"]["CRITICAL"] >= 2 and len(body["rules"]) == len(docker_rules) >= 30
    assert client.get("/api/posture?x=1").status_code == 400


def test_backend_down_is_503_problem(backend: RecordedBackend) -> None:
    c = make_app(backend).test_client()
    backend.down = True
    for path in ("/api/containers", "/api/posture", "/api/containers/legacy-db", "/readyz"):
        resp = c.get(path)
        assert resp.status_code == 503 and resp.mimetype == "application/problem+json", path
        assert resp.headers["Retry-After"] == "2" and "Traceback" not in resp.get_data(as_text=True)
    assert c.get("/healthz").status_code == 200


def test_slow_backend_is_cut_at_the_deadline(backend: RecordedBackend) -> None:
    c = make_app(backend, ENGINE_TIMEOUT="0.3").test_client()
    backend.delay = 2.0
    resp = c.get("/api/containers")
    assert resp.status_code == 503 and "within 0.5s" in resp.get_json()["detail"]


def test_single_flight_through_the_app(backend: RecordedBackend) -> None:
    app = make_app(backend, CACHE_TTL="5")
    backend.delay = 0.3
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def call() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.get("/api/containers?all=true").status_code)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 16 and backend.calls["list"] == 1


def test_trusts_exactly_one_proxy_hop(client: Any) -> None:
    body = client.get(
        "/api/containers",
        headers={"X-Forwarded-For": "203.0.113.9, 172.18.0.4"},
        environ_base={"REMOTE_ADDR": "172.18.0.5"},
    ).get_json()
    assert body["client_ip"] == "172.18.0.4"


def test_request_id_is_kept_or_generated(client: Any) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert len(generated) == 32


def test_auth_token_file_rotation_and_fail_closed(backend: RecordedBackend, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-one\n")
    c = make_app(backend, API_TOKEN_FILE=str(token)).test_client()
    assert c.get("/api/containers").status_code == 401
    assert c.get("/api/containers", headers={"Authorization": "Basic s3cret-one"}).status_code == 401
    ok = c.get("/api/containers", headers={"Authorization": "Bearer s3cret-one"})
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "private, no-store"
    assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
    replacement = tmp_path / "token.new"
    replacement.write_text("s3cret-two")
    os.replace(replacement, token)
    assert c.get("/api/version", headers={"Authorization": "Bearer s3cret-one"}).status_code == 401
    assert c.get("/api/version", headers={"Authorization": "Bearer s3cret-two"}).status_code == 200
    token.unlink()
    missing = c.get("/api/version", headers={"Authorization": "Bearer s3cret-two"})
    assert missing.status_code == 503 and missing.get_json()["type"].endswith("/auth-unavailable")
    token.write_text("s3cret-three")
    assert c.get("/api/version").headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_routes_and_methods_are_problems(client: Any) -> None:
    assert client.get("/nope").mimetype == "application/problem+json"
    resp = client.post("/api/containers")
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json" and "GET" in resp.headers["Allow"]


def test_openapi_and_version(client: Any) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and set(doc["paths"]) >= {
        "/api/containers",
        "/api/containers/{ref}",
        "/api/posture",
    }
    validate(client.get("/api/version").get_json(), "Version")
    validate(client.get("/healthz").get_json(), "Health")
    validate(client.get("/readyz").get_json(), "Ready")


def test_metrics_exposition(client: Any, backend: RecordedBackend) -> None:
    backend.listing[2]["State"] = "running"  # legacy-db: privileged, socket, root...
    client.get("/api/containers")
    client.get("/api/containers/nope")
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "inventory_http_requests_total",
        "inventory_http_request_duration_seconds_bucket",
        "inventory_backend_requests_total",
        "inventory_cache_requests_total",
        "inventory_build_info",
        "inventory_http_requests_in_flight",
    ):
        assert name in text, name
    assert 'inventory_backend_up{backend="docker"} 1.0' in text
    assert 'inventory_source_up{source="local",type="docker"} 1.0' in text
    assert 'inventory_containers{source="local",state="running"} 3.0' in text
    assert 'inventory_posture_findings{rule="docker-socket-mounted",severity="CRITICAL",source="local"} 1.0' in text
    assert 'inventory_posture_findings{rule="no-healthcheck",severity="LOW",source="local"} 1.0' in text
    assert 'inventory_posture_findings{rule="added-capabilities",severity="HIGH",source="local"} 1.0' in text
    assert 'route="/api/containers/<path:ref>"' in text and 'status="404"' in text

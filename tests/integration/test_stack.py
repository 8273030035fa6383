"""Through Nginx only: listing, client IP, error shapes, headers, secrets, hardening."""

from __future__ import annotations

import json
import time
import uuid

import docker
import requests

from tests.support.stack import Stack

PROBLEM = "application/problem+json"


def _by_service(items: list[dict], project: str) -> dict[str, dict]:
    return {
        c["labels"]["com.docker.compose.service"]: c
        for c in items
        if c["labels"].get("com.docker.compose.project") == project
    }


def test_lists_running_containers_including_itself(stack: Stack) -> None:
    resp = stack.get("/api/containers", params={"label": f"com.docker.compose.project={stack.project}"})
    assert resp.status_code == 200
    body = resp.json()
    services = _by_service(body["items"], stack.project)
    assert {"flask-api", "nginx-proxy", "socket-proxy"} <= set(services)
    api = services["flask-api"]
    assert api["state"] == "running" and api["health"] == "healthy"
    # The tag, or the image id if the tag was re-pointed by a later build while the stack ran.
    assert api["image"].startswith(("flask-api:", "sha256:")) and api["image_id"].startswith("sha256:")
    assert len(api["id"]) == 64 and api["short_id"] == api["id"][:12]
    published = [p for p in services["nginx-proxy"]["ports"] if p["public_port"]]
    assert published == [{"private_port": 8080, "protocol": "tcp", "public_port": stack.http_port, "ip": "127.0.0.1"}]
    assert body["backend"] == "docker" and body["total"] == body["count"] >= 3


def test_filters_and_stable_pagination(stack: Stack, canary_container: object) -> None:
    everything = stack.get("/api/containers", params={"all": "true", "limit": 1000}).json()
    ids = [c["id"] for c in everything["items"]]
    assert ids == sorted(ids)
    pages, cursor = [], None
    while True:
        params = {"all": "true", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.get("/api/containers", params=params).json()
        pages.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == ids
    # Labels AND together; the run label keeps other runs' canaries on a shared engine out of the answer.
    ours = ("label", f"org.container-inventory.run={canary_container.name}")
    only_canary = stack.get("/api/containers", params=[("label", "tier=canary"), ours]).json()
    assert [c["id"] for c in only_canary["items"]] == [canary_container.id]
    by_name = stack.get(
        "/api/containers", params={"name": "nginx-proxy", "label": f"com.docker.compose.project={stack.project}"}
    )
    assert [c["labels"]["com.docker.compose.service"] for c in by_name.json()["items"]] == ["nginx-proxy"]
    assert (
        stack.get("/api/containers", params=[("state", "exited"), ("label", "tier=canary"), ours]).json()["items"] == []
    )


def test_client_ip_is_the_connection_address_not_a_spoofed_header(stack: Stack) -> None:
    rid = f"spoof-{uuid.uuid4().hex}"
    resp = stack.get(
        "/api/version",
        headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "198.51.100.9", "X-Request-ID": rid},
    )
    listing = stack.get(
        "/api/containers", params={"limit": 1}, headers={"X-Forwarded-For": "203.0.113.7, 10.9.9.9"}
    ).json()
    assert resp.status_code == 200 and resp.headers["X-Request-ID"] == rid
    assert listing["client_ip"] not in ("203.0.113.7", "10.9.9.9")
    time.sleep(0.5)
    nginx_lines = [json.loads(line) for line in stack.logs("nginx-proxy").split("\n") if line.startswith("{")]
    api_lines = [json.loads(line) for line in stack.logs("flask-api").split("\n") if line.startswith("{")]
    seen_by_nginx = next(e["client_ip"] for e in nginx_lines if e.get("request_id") == rid)
    seen_by_api = next(e["client_ip"] for e in api_lines if e.get("request_id") == rid)
    assert seen_by_api == seen_by_nginx == listing["client_ip"]


def test_detail_by_id_prefix_and_name_with_security_fields(stack: Stack) -> None:
    api = stack.container("flask-api")
    by_prefix = stack.get(f"/api/containers/{api.id[:10]}")
    by_name = stack.get(f"/api/containers/{api.name}")
    assert by_prefix.status_code == by_name.status_code == 200
    assert by_prefix.json()["container"]["id"] == by_name.json()["container"]["id"] == api.id
    sec = by_name.json()["security"]
    assert sec["user"] == "10001:10001" and sec["cap_drop"] == ["ALL"] and sec["cap_add"] == []
    assert sec["read_only_rootfs"] and sec["no_new_privileges"] and not sec["privileged"]
    assert sec["memory_limit_bytes"] == 256 * 1024 * 1024 and sec["healthcheck"]
    proxy = stack.get(f"/api/containers/{stack.container('socket-proxy').name}").json()
    assert any(m["docker_socket"] for m in proxy["security"]["mounts"])
    socket = next(f for f in proxy["findings"] if f["rule"] == "docker-socket-mounted")
    # Our own stack waives it (deploy/waivers/compose.yaml, mounted as WAIVER_FILE), with its reason.
    assert socket["waived"] and socket["waiver"]["owner"] == "platform-team" and "proxy" in socket["waiver"]["reason"]
    assert not [f for f in proxy["findings"] if f["severity"] in ("CRITICAL", "HIGH") and not f["waived"]]


def test_posture_reports_through_nginx(stack: Stack) -> None:
    """The three report formats through the real edge, and the console script inside the image."""
    body = stack.get("/api/posture").json()
    assert body["score"]["grade"] in "ABCDF" and body["waived"] >= 1 and body["expired_waivers"] == []
    sarif = stack.get("/api/posture", headers={"Accept": "application/sarif+json"})
    assert sarif.headers["Content-Type"].startswith("application/sarif+json") and sarif.json()["version"] == "2.1.0"
    junit = stack.get("/api/posture", params={"format": "junit"})
    assert junit.headers["Content-Type"].startswith("application/xml") and b"<testsuites" in junit.content
    assert stack.get("/api/rules").json()["count"] >= 30
    api = stack.container("flask-api")
    code, out = api.exec_run(["inventory-scan", "--help"], user="10001")
    assert code == 0 and b"--fail-on" in out


def test_errors_are_problem_json(stack: Stack) -> None:
    missing = stack.get("/api/containers/does-not-exist")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith(PROBLEM)
    assert missing.json()["type"].endswith("/container-not-found")
    bad = stack.get("/api/containers", params={"limit": "many"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "limit"
    assert stack.get("/api/containers", params={"state": "sleepy"}).json()["parameter"] == "state"
    assert stack.get("/api/containers", params={"bogus": "1"}).json()["parameter"] == "bogus"
    for path in ("/metrics", "/", "/admin", "/api"):
        resp = stack.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["Content-Type"].startswith(PROBLEM), path
        assert "Traceback" not in resp.text
    post = requests.post(stack.url + "/api/containers", data="x", timeout=5)
    assert post.status_code in (403, 405) and post.headers["Content-Type"].startswith(PROBLEM)


def test_security_headers_request_id_and_traceparent(stack: Stack) -> None:
    trace_id = uuid.uuid4().hex
    parent = "00f067aa0ba902b7"
    resp = stack.get("/api/version", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"):
        assert header in resp.headers
    assert resp.headers["Server"] == "nginx"  # no version
    rid = resp.headers["X-Request-ID"]
    assert 16 <= len(rid) <= 128
    time.sleep(0.5)
    api_lines = [json.loads(line) for line in stack.logs("flask-api").split("\n") if line.startswith("{")]
    entry = next(e for e in api_lines if e.get("request_id") == rid and e["logger"] == "inventory.access")
    nginx_lines = [json.loads(line) for line in stack.logs("nginx-proxy").split("\n") if line.startswith("{")]
    edge = next(e for e in nginx_lines if e.get("request_id") == rid)
    assert edge["trace_id"] == trace_id and edge["span_id"] == parent, edge
    assert entry["trace_id"] == trace_id and entry["route"] == "/api/version" and entry["status"] == 200, entry


def test_version_and_openapi(stack: Stack) -> None:
    version = stack.get("/api/version").json()
    assert version["version"] and version["git_sha"] and version["backend"] == "docker"
    spec = stack.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1") and "/api/containers" in spec["paths"]


def test_containers_run_non_root_with_no_capabilities(stack: Stack) -> None:
    for service, uid in (("flask-api", "10001"), ("nginx-proxy", "10002"), ("socket-proxy", "10003")):
        c = stack.container(service)
        host = c.attrs["HostConfig"]
        assert c.attrs["Config"]["User"].split(":")[0] == uid, service
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], service
        assert host["ReadonlyRootfs"] is True, service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert not host["Privileged"], service
        code, out = c.exec_run(
            ["bash", "-c", "id -u; grep -E '^Cap(Eff|Prm)' /proc/1/status; touch /probe 2>&1; echo rc=$?"]
        )
        text = out.decode()
        assert code == 0 and text.splitlines()[0] == uid, (service, text)
        assert "CapEff:\t0000000000000000" in text and "CapPrm:\t0000000000000000" in text, (service, text)
        assert "Read-only file system" in text and "rc=1" in text, (service, text)


def test_api_container_cannot_drive_the_engine(stack: Stack, canary_container: object, canary: str) -> None:
    """From inside flask-api, everything but the four read calls is refused by the socket proxy."""
    cid = canary_container.id
    probe = r"""
import http.client, json, sys
cid = sys.argv[1]
calls = [
  ("POST", "/containers/create", 403), ("POST", f"/containers/{cid}/start", 403),
  ("POST", f"/containers/{cid}/stop", 403), ("POST", f"/containers/{cid}/exec", 403),
  ("POST", "/build", 403), ("GET", f"/containers/{cid}/archive?path=/etc", 403),
  ("GET", f"/containers/{cid}/export", 403), ("GET", f"/containers/{cid}/logs?stdout=1", 403),
  ("GET", f"/v1.41/containers/{cid}/logs?stdout=1", 403), ("DELETE", f"/containers/{cid}", 403),
  ("GET", "/images/json", 403), ("GET", "/info", 403), ("GET", "/containers/json?size=1", 403),
  ("GET", f"/containers/{cid}/json/../logs", 403), ("GET", f"/containers%2F{cid}%2Flogs", 403),
  ("POST", "/v1.41/containers/create", 403), ("GET", "/_ping", 200), ("GET", "/v1.41/version", 200),
  ("GET", "/containers/json?all=1", 200), ("GET", f"/containers/{cid}/json", 200),
]
out = []
for method, path, want in calls:
    conn = http.client.HTTPConnection("socket-proxy", 2375, timeout=5)
    conn.request(method, path, body=b"{}" if method == "POST" else None)
    resp = conn.getresponse()
    body = resp.read().decode()
    out.append({"method": method, "path": path, "want": want, "got": resp.status, "body": body})
print(json.dumps(out))
"""
    api = stack.container("flask-api")
    code, raw = api.exec_run(["python3", "-c", probe, cid])
    assert code == 0, raw.decode()
    results = json.loads(raw.decode().strip().splitlines()[-1])
    wrong = [(r["method"], r["path"], r["got"]) for r in results if r["got"] != r["want"]]
    assert not wrong
    inspect = next(r for r in results if r["path"] == f"/containers/{cid}/json")
    assert canary not in inspect["body"]
    doc = json.loads(inspect["body"])
    assert "Env" not in doc["Config"] and "Cmd" not in doc["Config"] and "Args" not in doc
    listing = next(r for r in results if r["path"] == "/containers/json?all=1")
    assert canary not in listing["body"] and '"Command"' not in listing["body"]


def test_secret_canary_never_appears_in_responses_or_logs(
    stack: Stack, canary_container: object, canary: str, client: docker.DockerClient
) -> None:
    cid = canary_container.id
    bodies = [
        stack.get("/api/containers", params={"all": "true", "limit": 1000}).text,
        stack.get(f"/api/containers/{cid}").text,
        stack.get(f"/api/containers/{canary_container.name}").text,
        stack.get("/api/posture", params={"all": "true"}).text,
    ]
    assert all(canary not in body for body in bodies)
    detail = json.loads(bodies[1])
    assert detail["container"]["id"] == cid
    assert "run-as-root" not in [f["rule"] for f in detail["findings"]]
    for c in stack.containers():
        assert canary not in c.logs().decode(errors="replace"), c.name

"""nginx-proxy on its own: JSON error pages (502, 404, 413, 429), limits, read-only rootfs."""

from __future__ import annotations

import time
import uuid

import docker
import pytest
import requests

from tests.support.stack import free_port, image_tag

PROBLEM = "application/problem+json"


@pytest.fixture()
def lonely_nginx(client: docker.DockerClient):
    """nginx-proxy whose upstream refuses connections, with a tiny rate limit."""
    port = free_port()
    c = client.containers.run(
        f"nginx-proxy:{image_tag()}",
        name=f"invtest-nginx-{uuid.uuid4().hex[:8]}",
        detach=True,
        environment={"API_UPSTREAM": "127.0.0.1:9", "RATE_LIMIT": "2r/s", "RATE_BURST": "3"},
        ports={"8080/tcp": ("127.0.0.1", port)},
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        tmpfs={"/tmp": "size=16m,mode=1777"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url + "/nothing", timeout=1)
            break
        except requests.RequestException:
            assert time.monotonic() < deadline, c.logs().decode()
            time.sleep(0.2)
    time.sleep(2)  # refill the bucket used by the probe
    yield c, url
    c.remove(force=True)


def test_error_pages_are_problem_json(lonely_nginx) -> None:
    _, url = lonely_nginx
    down = requests.get(url + "/api/version", timeout=5)
    assert down.status_code == 502 and down.headers["Content-Type"].startswith(PROBLEM)
    assert down.json() == {
        "type": "https://github.com/container-inventory/problems/bad-gateway",
        "title": "Bad Gateway",
        "status": 502,
        "detail": "the API is unreachable",
    }
    assert down.headers["X-Request-ID"] and down.headers["X-Content-Type-Options"] == "nosniff"
    time.sleep(1.5)
    big = requests.get(url + "/api/version", data=b"x" * 64 * 1024, timeout=5)
    assert big.status_code == 413 and big.json()["status"] == 413
    time.sleep(1.5)
    huge_header = requests.get(url + "/api/version", headers={"X-Big": "y" * 20000}, timeout=5)
    assert huge_header.status_code in (400, 431) and huge_header.headers["Content-Type"].startswith(PROBLEM)


def test_rate_limit_answers_429_problem(lonely_nginx) -> None:
    _, url = lonely_nginx
    statuses = [requests.get(url + "/api/version", timeout=5) for _ in range(15)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert limited[0].headers["Content-Type"].startswith(PROBLEM)
    assert limited[0].json()["type"].endswith("/too-many-requests")


def test_stub_status_is_internal_and_rootfs_read_only(lonely_nginx) -> None:
    c, _ = lonely_nginx
    code, out = c.exec_run(
        ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8081; printf 'GET /stub_status HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3"]
    )
    assert code == 0 and "Active connections" in out.decode()
    assert list(c.attrs["NetworkSettings"]["Ports"].get("8081/tcp") or []) == []
    code, out = c.exec_run(["bash", "-c", "touch /etc/nginx/x 2>&1; ls -ld /tmp/nginx/cache"])
    assert "Read-only file system" in out.decode()

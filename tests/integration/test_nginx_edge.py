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


def test_liveness_and_the_image_healthcheck_do_not_need_the_api(lonely_nginx) -> None:
    """An API outage must not restart nginx: its own liveness answers while the upstream refuses connections."""
    c, url = lonely_nginx
    assert requests.get(url + "/healthz", timeout=5).status_code == 502  # the API's health: the upstream is down
    live = requests.get(url + "/nginx-healthz", timeout=5)
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    # the image's HEALTHCHECK (what compose waits on) passes too
    test = c.image.attrs["Config"]["Healthcheck"]["Test"]
    assert test[0] == "CMD", test
    code, out = c.exec_run(test[1:])
    assert code == 0, out.decode()


@pytest.fixture()
def edge_network(client: docker.DockerClient):
    """A bridge network of our own: connections from the host reach nginx from its gateway, inside its subnet."""
    net = client.networks.create(f"invtest-edge-{uuid.uuid4().hex[:8]}", driver="bridge")
    net.reload()
    yield net, net.attrs["IPAM"]["Config"][0]["Subnet"]
    net.remove()


def _nginx_behind_a_proxy(client: docker.DockerClient, network: str, real_ip_from: str):
    port = free_port()
    c = client.containers.run(
        f"nginx-proxy:{image_tag()}",
        name=f"invtest-nginx-{uuid.uuid4().hex[:8]}",
        detach=True,
        network=network,
        # one request a minute, burst 1: the second request of a client passes, the third is limited
        environment={
            "API_UPSTREAM": "127.0.0.1:9",
            "RATE_LIMIT": "1r/m",
            "RATE_BURST": "1",
            "REAL_IP_FROM": real_ip_from,
        },
        ports={"8080/tcp": ("127.0.0.1", port)},
        read_only=True,
        cap_drop=["ALL"],
        tmpfs={"/tmp": "size=16m,mode=1777"},
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/nginx-healthz", timeout=1)  # not rate limited
            return c, f"http://127.0.0.1:{port}"
        except requests.RequestException:
            assert time.monotonic() < deadline, c.logs().decode()
            time.sleep(0.2)


def _statuses(url: str, client_ip: str, n: int) -> list[int]:
    return [
        requests.get(url + "/api/version", headers={"X-Forwarded-For": client_ip}, timeout=5).status_code
        for _ in range(n)
    ]


@pytest.mark.parametrize("trusted", [True, False], ids=["from-the-controller", "from-anyone-else"])
def test_rate_limits_key_on_the_forwarded_client_only_from_trusted_proxies(client, edge_network, trusted) -> None:
    net, subnet = edge_network
    c, url = _nginx_behind_a_proxy(client, net.name, subnet if trusted else "192.0.2.0/24")
    try:
        assert _statuses(url, "203.0.113.1", 3) == [
            502,
            502,
            429,
        ]  # one client (the API is down: 502) uses up its budget
        # another client; the controller appends the address it sees to whatever the client sent
        other = _statuses(url, "203.0.113.1, 203.0.113.2", 1)
        if trusted:
            assert other == [502], "a second client behind the controller has a budget of its own"
        else:
            assert other == [429], "an untrusted peer's X-Forwarded-For must be ignored (one budget per connection)"
    finally:
        c.remove(force=True)


def test_real_ip_from_rejects_what_is_not_an_address(client) -> None:
    out = client.containers.run(
        f"nginx-proxy:{image_tag()}",
        environment={"REAL_IP_FROM": "10.0.0.0/8,everyone"},
        read_only=True,
        tmpfs={"/tmp": "size=16m,mode=1777"},
        remove=False,
        detach=True,
    )
    try:
        assert out.wait(timeout=30)["StatusCode"] == 2
        assert "REAL_IP_FROM: 'everyone' is not an IPv4/IPv6 address or CIDR" in out.logs().decode()
    finally:
        out.remove(force=True)

from __future__ import annotations

import pytest
from conftest import load_fixture
from inventory.backends.base import image_reference_flags, is_docker_socket
from inventory.backends.docker import container_from_list_entry, detail_from_inspect


def test_list_entry_normalisation() -> None:
    proxy, nginx, db = (container_from_list_entry(e) for e in load_fixture("list.json"))
    assert proxy.names == ["inventory_socket-proxy_1"] and proxy.health == "healthy"
    assert nginx.health == "starting" and db.health == "none" and db.state == "exited"
    assert nginx.ports[0].public_port == 8080 and nginx.ports[0].ip == "127.0.0.1"
    assert nginx.created == "2026-11-25T19:53:20Z"
    assert proxy.to_dict()["short_id"] == proxy.id[:12]


def test_insecure_inspect() -> None:
    detail = detail_from_inspect(load_fixture("inspect-insecure.json"))
    sec = detail.security
    assert sec.privileged and sec.host_network and sec.host_pid and not sec.host_ipc
    assert sec.cap_add == ["NET_ADMIN", "SYS_ADMIN"] and sec.user == ""
    assert sec.memory_limit_bytes is None and sec.cpu_limit is None and not sec.healthcheck
    assert sec.image_mutable_tag and not sec.image_pinned_by_digest
    assert [m.docker_socket for m in sec.mounts] == [True, False]
    assert detail.container.restart_count == 3 and detail.container.started_at == "2026-11-20T10:00:01Z"


def test_hardened_inspect() -> None:
    sec = detail_from_inspect(load_fixture("inspect-hardened.json")).security
    assert sec.user == "10001:10001" and sec.read_only_rootfs and sec.no_new_privileges
    assert sec.cap_drop == ["ALL"] and sec.memory_limit_bytes == 268435456 and sec.cpu_limit == 1.0
    assert sec.healthcheck and sec.image_pinned_by_digest and not sec.image_mutable_tag


@pytest.mark.parametrize(
    ("ref", "flags"),
    [
        ("nginx", (False, True)),
        ("nginx:latest", (False, True)),
        ("nginx:1.27", (False, False)),
        ("registry:5000/team/app", (False, True)),
        ("registry:5000/team/app:2.1", (False, False)),
        ("app@sha256:" + "a" * 64, (True, False)),
    ],
)
def test_image_reference_flags(ref: str, flags: tuple[bool, bool]) -> None:
    assert image_reference_flags(ref) == flags


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/var/run/docker.sock", True), ("/run/podman/podman.sock", True), ("/data", False), ("/srv/docker.sock", True)],
)
def test_socket_detection(path: str, expected: bool) -> None:
    assert is_docker_socket(path) is expected

"""Fleet suite fixtures: three real engines (the host's dockerd, a second dockerd, Podman) with one test
container each, labelled so the suite only ever looks at its own containers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from tests.support.engines import BASE_IMAGE, PodmanService, SecondDockerd, load_image


@dataclass
class Engines:
    tag: str  # value of the fleet.test label on every test container
    host: docker.DockerClient
    engine_b: SecondDockerd
    podman: PodmanService
    host_id: str
    engine_b_id: str
    podman_id: str

    def mine(self, body: dict[str, Any]) -> dict[str, str]:
        """API id -> source of this suite's containers in a listing."""
        return {c["id"]: c["source"] for c in body["items"] if c["labels"].get("fleet.test") == self.tag}


def only_b_down(body: dict[str, Any]) -> dict[str, Any] | None:
    """The answer when engine-b is the one source down, else None."""
    status = {s["name"]: s["status"] for s in body["sources"]}
    return body if status == {"local": "ok", "engine-b": "unavailable", "podman": "ok"} else None


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy value of ``predicate`` (a half-written answer counts as none yet), or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (ValueError, KeyError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def _run(client: docker.DockerClient, name: str, tag: str, **kwargs: object) -> str:
    container = client.containers.run(
        BASE_IMAGE,
        ["sleep", "3600"],
        name=name,
        labels={"fleet.test": tag},
        detach=True,
        init=True,
        network_disabled=True,
        **kwargs,
    )
    return container.id


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    tag = uuid.uuid4().hex[:8]
    host = docker.from_env(timeout=60)
    try:
        host.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"the fleet suite needs the host's Docker engine: {exc}")
    host_name = f"fleet-host-{tag}"
    with SecondDockerd() as engine_b, PodmanService() as podman:
        client_b = engine_b.client(timeout=120)
        load_image(client_b)
        host_id = _run(host, host_name, tag, user="65534:65534", read_only=True, cap_drop=["ALL"])
        try:
            b_id = _run(client_b, f"fleet-b-{tag}", tag)  # root, writable rootfs: findings to attribute
            p_id = podman.create(f"fleet-p-{tag}", "--label", f"fleet.test={tag}", "--cap-add", "NET_ADMIN")
            yield Engines(tag, host, engine_b, podman, host_id, b_id, p_id)
        finally:
            host.containers.get(host_name).remove(force=True)

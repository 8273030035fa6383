"""Fleet suite fixtures: three real engines (the host's dockerd, a second dockerd, Podman) with one test
container each, labelled so the suite only ever looks at its own containers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

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

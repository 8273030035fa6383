"""The runner-job suite: the real images on the real Docker engine, driven through Nginx only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.support.stack import Stack

BASE_IMAGE = "debian:bookworm-slim"
# A name of the user's own (SERVER_NAMES): nginx serves the API under it too (test_nginx_hosts.py).
SERVER_NAME = "inventory.test"
# As long as the chart's in-cluster names get (<service>.<namespace>.svc.cluster.local, 63-character labels).
LONG_NAME = f"{'s' * 63}.{'n' * 63}.svc.cluster.local"


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    try:
        c = docker.from_env()
        c.ping()
    except docker.errors.DockerException as exc:  # pragma: no cover - environment problem
        pytest.fail(f"the integration suite needs a Docker engine: {exc}")
    return c


@pytest.fixture(scope="session")
def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def canary_container(client: docker.DockerClient, canary: str) -> Iterator[object]:
    """A container whose env and command line carry a secret that must never leak."""
    name = f"invtest-canary-{uuid.uuid4().hex[:8]}"
    container = client.containers.run(
        BASE_IMAGE,
        ["sh", "-c", f"sleep 3600 # --password={canary}"],
        name=name,
        environment={"SECRET_TOKEN": canary, "AWS_SECRET_ACCESS_KEY": canary},
        # the run label keeps filters on this run's canary when other runs share the engine
        labels={"org.container-inventory.test": "canary", "tier": "canary", "org.container-inventory.run": name},
        detach=True,
        network_disabled=True,
        cap_drop=["ALL"],
        read_only=True,
        user="65534:65534",
    )
    yield container
    container.remove(force=True)


@pytest.fixture(scope="session")
def stack(canary_container: object) -> Iterator[Stack]:
    s = Stack(env={"SERVER_NAMES": f"{SERVER_NAME},{LONG_NAME}"})
    s.up()
    try:
        yield s
    finally:
        s.down()

"""History suite: real SQLite files, a throwaway PostgreSQL cluster, the real Docker engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest
from inventory.history import db
from inventory.service import InventoryService
from inventory.wiring import build_service, configure

from tests.support import postgres
from tests.support.prereq import unavailable

BASE_IMAGE = "debian:bookworm-slim"


@pytest.fixture(scope="session")
def pg() -> Iterator[postgres.PostgresCluster]:
    reason = postgres.available()
    if reason:
        unavailable(f"PostgreSQL tests cannot run here: {reason}")
    with postgres.PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    cluster = request.getfixturevalue("pg")
    return cluster.create_database(f"h{uuid.uuid4().hex[:10]}")


@pytest.fixture()
def migrated_url(database_url: str) -> str:
    db.upgrade(db.make_engine(database_url))
    return database_url


@pytest.fixture(scope="session")
def engine_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"the history suite needs a Docker engine: {exc}")
    return client


@pytest.fixture()
def service(engine_client: docker.DockerClient) -> Iterator[InventoryService]:
    """The real Docker backend through the inventory service and its live state, as the recorder uses it."""
    svc = build_service(configure({"ENGINE_TIMEOUT": "5"}))
    svc.start()
    yield svc
    svc.live.stop()


@pytest.fixture()
def scratch(engine_client: docker.DockerClient) -> Iterator[list[object]]:
    """Containers a test creates; removed afterwards."""
    made: list[object] = []
    yield made
    for c in made:
        try:
            c.remove(force=True)  # type: ignore[attr-defined]
        except docker.errors.NotFound:
            pass


def run_container(client: docker.DockerClient, made: list[object], name: str, **kw: object) -> object:
    c = client.containers.run(
        BASE_IMAGE,
        ["sleep", "600"],
        name=name,
        detach=True,
        network_disabled=True,
        labels={"org.container-inventory.test": "history"},
        stop_signal="SIGKILL",
        **kw,
    )
    made.append(c)
    return c

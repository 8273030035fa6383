"""Unit-test fixtures: the real app factory with a recorded-data backend at the Backend boundary."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from inventory.app import create_app
from inventory.backends.docker import container_from_list_entry, detail_from_inspect
from inventory.config import load_settings
from inventory.fleet.config import LiveTimings, SourceConfig
from inventory.fleet.sources import Source
from inventory.live import make_live_state
from inventory.model import BackendUnavailable, Container, ContainerDetail, NotFound
from inventory.service import InventoryService
from inventory.wiring import build_service, configure, live_timings

FIXTURES = Path(__file__).parent / "fixtures" / "docker"
# The single source the default environment describes (ENGINE_TIMEOUT's default), for live states built by hand.
LOCAL = SourceConfig(name="local", kind="docker", timeout=1.5, url="unix:///var/run/docker.sock")


def timings(**env: str) -> LiveTimings:
    """The live timings the environment ``env`` configures (defaults for the rest)."""
    return live_timings(load_settings(env))


def service_for(backend: Any, **env: str) -> InventoryService:
    """The service the wiring builds from ``env`` with ``backend`` as its single source."""
    return build_service(configure(env), backend)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class RecordedBackend:
    """Serves recorded Docker Engine answers through the real normalisation code; counts calls."""

    name = "docker"

    def __init__(self) -> None:
        self.listing = load_fixture("list.json")
        self.inspects = {
            d["Id"]: d for d in (load_fixture("inspect-insecure.json"), load_fixture("inspect-hardened.json"))
        }
        self.calls: dict[str, int] = {"ping": 0, "list": 0, "inspect": 0}
        self.down = False
        self.delay = 0.0
        self._lock = threading.Lock()

    def _count(self, op: str) -> None:
        with self._lock:
            self.calls[op] += 1
        if self.delay:
            threading.Event().wait(self.delay)
        if self.down:
            raise BackendUnavailable("docker engine unreachable: ConnectionError")

    def ping(self) -> dict[str, Any]:
        self._count("ping")
        return {"engine": "docker", "version": "recorded", "api_version": "1.41"}

    def list_containers(self, include_stopped: bool) -> list[Container]:
        self._count("list")
        items = [i for i in self.listing if include_stopped or i["State"] == "running"]
        return [container_from_list_entry(i) for i in items]

    def inspect(self, container_id: str) -> ContainerDetail:
        self._count("inspect")
        raw = self.inspects.get(container_id)
        if raw is None:
            # Containers without a recorded inspect answer: derive a hardened one.
            entry = next((i for i in self.listing if i["Id"] == container_id), None)
            if entry is None:
                raise NotFound(container_id)
            raw = dict(load_fixture("inspect-hardened.json"), Id=container_id, Name=entry["Names"][0])
        return detail_from_inspect(raw)


@pytest.fixture()
def backend() -> RecordedBackend:
    return RecordedBackend()


def make_app(backend: RecordedBackend, **env: str) -> Any:
    app = create_app(configure({"CACHE_TTL": "0", "INSPECT_CACHE_TTL": "0", **env}), backend)
    app.testing = True
    return app


def make_fleet_app(backends: dict[str, RecordedBackend], **env: str) -> Any:
    """One app over several recorded engines, one source each (the source named ``pod`` is a Podman one)."""
    config = configure({"CACHE_TTL": "0", "INSPECT_CACHE_TTL": "0", "ENGINE_TIMEOUT": "1", **env})
    sources = []
    for name, backend in backends.items():
        source = SourceConfig(name=name, kind="podman" if name == "pod" else "docker", timeout=1.0, url="unix:///x")
        sources.append(Source(source, backend, make_live_state(backend, source, live_timings(config.settings))))
    service = InventoryService(sources, config.waivers, config.settings.live_stale_grace, 1.0)
    app = create_app(config, service=service)
    app.testing = True
    return app


@pytest.fixture()
def client(backend: RecordedBackend) -> Any:
    return make_app(backend).test_client()


class Clock:
    """The wall clock as the fleet reads it (source status, view cache), movable: a grace period ends without
    the test waiting for it (and without a timed assertion). Deadlines (monotonic) and sleeps stay real."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import inventory.fleet.sources
    import inventory.fleet.view

    c = Clock()
    monkeypatch.setattr(inventory.fleet.sources, "time", c)
    monkeypatch.setattr(inventory.fleet.view, "time", c)
    return c

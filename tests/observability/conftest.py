"""Fixtures of the observability suite: a real Prometheus (no targets) for PromQL parsing and the
real compose stack with the monitoring profile plus a test-only override."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prereq import unavailable

from .support import ROOT, Prometheus, free_port


@pytest.fixture(scope="session")
def bare_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus without targets: its query API is the PromQL parser of record."""
    prom = Prometheus(tmp_path_factory.mktemp("prom-bare"), {"global": {"scrape_interval": "1m"}})
    with prom.run():
        yield prom


@dataclass
class ObsStack:
    stack: Any  # tests.support.stack.Stack
    api_url: str  # flask-api:8000 published on 127.0.0.1 (for /metrics)
    exporter_url: str  # nginx-exporter:9113 published on 127.0.0.1
    receiver_url: str  # the OTLP receiver container, published on 127.0.0.1
    prometheus_url: str  # compose profile's Prometheus on 127.0.0.1
    token: str  # API token canary (must never be logged or returned)
    env_canary: str  # a container env value canary (must never be logged or returned)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def published(self, service: str, port: int) -> str:
        container = self.stack.container(service)
        container.reload()
        binding = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]
        assert binding["HostIp"] == "127.0.0.1", binding
        return f"http://127.0.0.1:{binding['HostPort']}"


def _waivers_expiring_soon(tmp: Path) -> Path:
    """The stack's own waiver file plus one waiver that expires within 14 days, so the waiver-expiry series
    (inventory_posture_waivers_expiring, alert InventoryWaiverExpiringSoon) exists in the running stack."""
    doc = yaml.safe_load((ROOT / "deploy/waivers/compose.yaml").read_text())
    doc["waivers"].append(
        {
            "rule": "no-healthcheck",
            "target": {"labels": {"org.container-inventory.role": "obs-test"}},
            "reason": "observability suite: a waiver that expires soon",
            "owner": "obs-suite",
            "expires": (date.today() + timedelta(days=7)).isoformat(),
        }
    )
    path = tmp / "waivers.yaml"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o644)
    return path


def _override(tmp: Path, token_file: Path, env_canary: str) -> Path:
    """Test-only compose override: publish the API's /metrics, the exporter and an OTLP receiver
    on 127.0.0.1 (ephemeral ports), enable token auth and OTLP export, plant an env canary."""
    receiver = tmp / "otlp_receiver.py"
    shutil.copy(Path(__file__).parent / "otlp_receiver.py", receiver)
    receiver.chmod(0o644)
    waivers = _waivers_expiring_soon(tmp)
    doc = {
        "services": {
            "flask-api": {
                "ports": ["127.0.0.1::8000"],
                "networks": ["engine", "backend", "obsprobe"],
                "environment": {
                    "API_TOKEN_FILE": "/run/secrets/api-token",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otlp-receiver:4318",
                    "OTEL_BSP_SCHEDULE_DELAY": "200",
                    "OBS_TEST_CANARY": env_canary,
                    "WEB_CONCURRENCY": "2",
                    "WAIVER_FILE": "/etc/inventory/obs-waivers.yaml",
                },
                "volumes": [
                    f"{token_file}:/run/secrets/api-token:ro",
                    f"{waivers}:/etc/inventory/obs-waivers.yaml:ro",
                ],
                "depends_on": {"otlp-receiver": {"condition": "service_healthy"}},
            },
            "nginx-exporter": {"ports": ["127.0.0.1::9113"], "networks": ["backend", "obsprobe"]},
            "otlp-receiver": {
                "image": "${REGISTRY:-}flask-api:${IMAGE_TAG}",
                "entrypoint": ["python3", "/otlp/receiver.py"],
                "command": [],
                "user": "10001:10001",
                "read_only": True,
                "cap_drop": ["ALL"],
                "security_opt": ["no-new-privileges:true"],
                "volumes": [f"{receiver}:/otlp/receiver.py:ro"],
                "ports": ["127.0.0.1::4318"],
                "networks": ["obsprobe"],
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python3",
                        "-c",
                        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4318/healthz', timeout=2)",
                    ],
                    "interval": "2s",
                    "retries": 10,
                },
            },
        },
        "networks": {"obsprobe": {}},
    }
    path = tmp / "compose.obs-test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def obs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObsStack]:
    if not os.path.exists("/var/run/docker.sock"):
        unavailable("no Docker engine on this machine")
    import docker

    from tests.support.stack import Stack, image_tag

    client = docker.from_env()
    tag = image_tag()
    prefix = os.environ.get("REGISTRY", "")
    for image in (
        "flask-api",
        "nginx-proxy",
        "socket-proxy",
        "inventory-nginx-exporter",
        "inventory-prometheus",
        "inventory-alertmanager",
    ):
        try:
            client.images.get(f"{prefix}{image}:{tag}")
        except docker.errors.ImageNotFound:
            pytest.fail(f"image {prefix}{image}:{tag} missing: run `make images monitoring-images`")
    tmp = tmp_path_factory.mktemp("obs-stack")
    token, env_canary = f"obs-canary-token-{secrets.token_hex(16)}", f"obs-canary-env-{secrets.token_hex(16)}"
    token_file = tmp / "api-token"
    token_file.write_text(token)
    token_file.chmod(0o644)
    stack = Stack(
        project=f"obstest{uuid.uuid4().hex[:8]}",
        env={
            "PROMETHEUS_PORT": str(free_port()),
            "ALERTMANAGER_PORT": str(free_port()),
            "LOG_LEVEL": "INFO",
            "CACHE_TTL": "1",
            "LIVE_STALE_GRACE": "3",  # the alert test waits for inventory_backend_up == 0 after the grace period
        },
        compose_files=("compose.yaml", "compose.monitoring.yaml", str(_override(tmp, token_file, env_canary))),
    )
    stack.up(timeout=180)
    try:
        obs = ObsStack(stack, "", "", "", "", token, env_canary)
        obs.api_url = obs.published("flask-api", 8000)
        obs.exporter_url = obs.published("nginx-exporter", 9113)
        obs.receiver_url = obs.published("otlp-receiver", 4318)
        obs.prometheus_url = obs.published("prometheus", 9090)
        yield obs
    finally:
        stack.down()


ROOT_DIR = ROOT

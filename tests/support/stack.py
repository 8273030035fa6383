"""Start and stop the real compose stack under a unique project name for a test suite.

Usage::

    with Stack(env={"CACHE_TTL": "0"}) as stack:
        requests.get(stack.url + "/api/containers")
        stack.container("flask-api").stop()

Everything the stack creates (containers, networks, volumes) carries the compose project
label and is removed by ``down()``, also when the suite fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import requests

ROOT = Path(__file__).resolve().parents[2]


def docker_bin() -> str:
    return os.environ.get("DOCKER") or ("/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker")


def compose_cmd() -> list[str]:
    """`docker compose` (v2 plugin) when available, else docker-compose 1.29."""
    if os.environ.get("COMPOSE"):
        return os.environ["COMPOSE"].split()
    probe = subprocess.run([docker_bin(), "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [docker_bin(), "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def image_tag() -> str:
    return os.environ.get("IMAGE_TAG") or (ROOT / "VERSION").read_text().strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker_gid() -> str:
    try:
        return str(os.stat("/var/run/docker.sock").st_gid)
    except OSError:
        return "0"


class Stack:
    def __init__(
        self,
        project: str | None = None,
        env: dict[str, str] | None = None,
        compose_files: tuple[str, ...] = ("compose.yaml",),
    ) -> None:
        self.project = project or f"invtest{uuid.uuid4().hex[:8]}"
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.files = [str(ROOT / f) for f in compose_files]
        self.env = {
            **os.environ,
            "IMAGE_TAG": image_tag(),
            "DOCKER_GID": docker_gid(),
            "HTTP_PORT": str(self.http_port),
            "COMPOSE_PROJECT_NAME": self.project,
            # Tests drive load from one address: keep the per-IP limit out of their way
            # unless a test sets its own.
            "RATE_LIMIT": "1000r/s",
            "RATE_BURST": "2000",
            **(env or {}),
        }
        self.client = docker.from_env()

    # -- lifecycle ---------------------------------------------------------------------
    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*compose_cmd(), "-p", self.project]
        for f in self.files:
            cmd += ["-f", f]
        return subprocess.run([*cmd, *args], env=self.env, cwd=ROOT, text=True, capture_output=True, check=check)

    def up(self, timeout: float = 120) -> Stack:
        result = self.compose("up", "-d", "--no-build", check=False)
        if result.returncode != 0:
            self.down()
            raise RuntimeError(f"compose up failed:\n{result.stdout}\n{result.stderr}")
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            containers = self.containers()
            states = {c.name: (c.attrs["State"].get("Health") or {}).get("Status") for c in containers}
            if containers and all(s == "healthy" for s in states.values()):
                break
            if time.monotonic() > deadline:
                logs = {c.name: c.logs(tail=30).decode(errors="replace") for c in containers}
                self.down()
                raise RuntimeError(f"stack not healthy after {timeout}s: {states}\n{logs}")
            time.sleep(0.5)
        # Healthy containers behind Nginx: wait until the edge answers too.
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError("nginx-proxy does not answer /healthz")

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "-t", "5", check=False)

    def __enter__(self) -> Stack:
        return self.up()

    def __exit__(self, *exc: Any) -> None:
        self.down()

    # -- inspection --------------------------------------------------------------------
    def containers(self) -> list[Any]:
        return self.client.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.project}"})

    def container(self, service: str) -> Any:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]},
        )
        if not found:
            raise LookupError(f"no container for service {service} in {self.project}")
        return found[0]

    def logs(self, service: str) -> str:
        return self.container(service).logs().decode(errors="replace")

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, **kwargs)

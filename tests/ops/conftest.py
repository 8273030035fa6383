"""Shared helpers for the ops suite: run the real CLI, unique names, Docker client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.prereq import unavailable
from tests.support.stack import free_port  # noqa: F401  (re-exported for the suite)

ROOT = Path(__file__).resolve().parents[2]


# Every invops command this session ran, with its exit code: test_zz_runbook_exercised.py checks that each command
# the runbooks show was really run (same command, same options, exit 0) by some test of the session.
INVOPS_CALLS: list[tuple[list[str], int]] = []


def invops(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python -m invops` exactly as people and Jenkins do (a new process, real exit code)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "ops"), **(env or {})}
    res = subprocess.run(
        [sys.executable, "-m", "invops", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    INVOPS_CALLS.append((list(args), res.returncode))
    return res


@pytest.fixture
def uid() -> str:
    return f"invops-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def docker_client():
    import docker  # in the tool venv's lock

    if not shutil.which("docker") and not Path("/var/run/docker.sock").exists():
        unavailable("no Docker engine on this machine")
    client = docker.from_env()
    try:
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(f"Docker engine not reachable: {exc}")
    return client


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    image = os.environ.get("BASE_IMAGE", "debian:bookworm-slim")
    import docker

    try:
        docker_client.images.get(image)
    except docker.errors.ImageNotFound:  # only a missing image; any other engine error is a failure
        unavailable(f"base image {image} missing: run `make base-image`")
    return image

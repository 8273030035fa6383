"""Fixtures for the CI/CD suite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cicd_helpers import JAVA_HOME, JENKINSFILES, SEED, probe_many


@pytest.fixture(scope="session")
def groovy() -> str:
    exe = shutil.which("groovy")
    if not exe or not Path(JAVA_HOME, "bin", "java").exists():
        pytest.fail("groovy/JDK missing: install the Debian packages in tools/apt-packages.txt (groovy, JDK 17)")
    return exe


@pytest.fixture(scope="session", autouse=True)
def _probe_everything_once() -> None:
    """Evaluate the seed and every Jenkinsfile in one JVM up front (each JVM start costs seconds on a busy machine)."""
    if shutil.which("groovy"):
        probe_many([SEED, *JENKINSFILES])

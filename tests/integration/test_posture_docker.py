"""Posture rules against REAL containers: the catalog's hardened Docker baseline, then one container per
deviation (every Docker case of api/inventory/posture/rules/), created on the real engine and read back through
the real Docker backend (inspect -> Security -> checks). The baseline and every `pass` variant must have zero
findings; every deviation exactly its rule (plus what its case file says it necessarily breaks too).

The unit lane checks the same verdicts on these containers' inspect answers, recorded in
api/tests/fixtures/docker/posture-cases.json: here each recording must normalise exactly as the engine's answer
does today (re-record with RECORD_POSTURE_CASES=1 after a catalog change)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from inventory.backends.docker import DockerBackend, detail_from_inspect
from inventory.fleet.config import SourceConfig
from inventory.posture import violated

from tests.support.rule_cases import docker_args, docker_cases

RUN = uuid.uuid4().hex[:8]
BASE_IMAGE = "debian:bookworm-slim"
LABEL = "org.container-inventory.test"
CASES = docker_cases()
RECORDED = Path(__file__).resolve().parents[2] / "api" / "tests" / "fixtures" / "docker" / "posture-cases.json"


@pytest.fixture(scope="module")
def placeholders(client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """A user network, a bind source, the base image by id and two tags of it; removed afterwards."""
    network = client.networks.create(f"invtest-posture-{RUN}", labels={LABEL: f"posture-{RUN}"})
    image = client.images.get(BASE_IMAGE)
    repo = f"invtest-posture-{RUN}"
    image.tag(repo, "latest")
    image.tag(repo, "1.0")
    tmp = tempfile.TemporaryDirectory(prefix="invtest-posture-")
    try:
        yield {
            "network": network.name,
            "image_id": image.id,
            "image_repo": repo,
            "image_tag": "1.0",
            "tmpdir": tmp.name,
        }
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL}=posture-{RUN}"}):
            c.remove(force=True)
        network.remove()
        for tag in ("latest", "1.0"):
            client.images.remove(f"{repo}:{tag}", noprune=True)
        tmp.cleanup()


@pytest.fixture(scope="module")
def created(placeholders: dict[str, str]) -> dict[str, str]:
    """docker create (the real CLI, the options as a person would type them) -> case id -> container id."""
    ids = {}
    for case, _rule, options, _expected in CASES:
        args, image = docker_args(options, placeholders)
        cmd = ["docker", "create", "--name", f"invtest-posture-{RUN}-{case}", "--label", f"{LABEL}=posture-{RUN}"]
        proc = subprocess.run([*cmd, *args, image, "sleep", "3600"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{case}: {proc.stderr}"
        ids[case] = proc.stdout.strip()
    return ids


@pytest.fixture(scope="module")
def backend() -> DockerBackend:
    return DockerBackend(SourceConfig(name="local", kind="docker", timeout=10.0, url="unix:///var/run/docker.sock"))


@pytest.mark.docker
@pytest.mark.parametrize(("case", "rule", "options", "expected"), CASES, ids=[c[0] for c in CASES])
def test_real_container_verdict(case: str, rule: str, options: dict[str, Any], expected: set[str], created, backend):
    detail = backend.inspect(created[case])
    assert {r.id for r in violated(detail.security, "docker")} == expected


@pytest.mark.docker
def test_running_baseline_is_clean(client: docker.DockerClient, created, backend):
    """The hardened baseline also starts and runs as such (not only as a created container)."""
    container = client.containers.get(created["baseline"])
    container.start()
    container.reload()
    assert container.status == "running"
    assert {r.id for r in violated(backend.inspect(container.id).security, "docker")} == set()


STAND_INS = {"image_id": "sha256:" + "0" * 64, "tmpdir": "/tmp/invtest-posture-fixture", "network": "invtest-posture"}


def recording(raw: dict[str, Any], case: str, placeholders: dict[str, str]) -> dict[str, Any]:
    """What the Docker normalisation reads of an inspect answer, this run's names replaced by fixed stand-ins."""
    keep = {k: raw[k] for k in ("Image", "AppArmorProfile", "HostConfig", "Mounts", "RestartCount") if k in raw}
    config = raw.get("Config") or {}
    doc = {
        "Id": f"posture-{case}",
        "Name": f"/posture-{case}",
        "Created": "2026-12-07T00:00:00Z",
        "State": {"Status": "created", "StartedAt": "0001-01-01T00:00:00Z"},
        "Config": {k: config[k] for k in ("User", "Image", "Healthcheck") if k in config},
        **keep,
    }
    text = json.dumps(doc, sort_keys=True)
    for key in ("image_id", "tmpdir", "network"):  # the network and the image repository have the same name
        text = text.replace(placeholders[key], STAND_INS[key])
    return json.loads(text)


@pytest.mark.docker
def test_recorded_inspects_are_current(client: docker.DockerClient, created, placeholders) -> None:
    """Every case's recording normalises to exactly what the engine's answer normalises to today."""
    assert placeholders["network"] == placeholders["image_repo"]
    today = {case: recording(client.api.inspect_container(cid), case, placeholders) for case, cid in created.items()}
    if os.environ.get("RECORD_POSTURE_CASES") == "1":
        RECORDED.write_text(json.dumps(dict(sorted(today.items())), indent=1, sort_keys=True) + "\n")
    recorded = json.loads(RECORDED.read_text())
    assert sorted(recorded) == sorted(today), "cases changed: re-record with RECORD_POSTURE_CASES=1"
    for case, doc in today.items():
        want = detail_from_inspect(doc).security
        assert detail_from_inspect(recorded[case]).security == want, f"{case}: stale recording (re-record it)"

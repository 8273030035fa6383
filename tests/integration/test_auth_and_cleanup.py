"""Auth with a rotatable token file, the micro-cache never answering a refused request, and teardown."""

from __future__ import annotations

import os
import tempfile
import time

import docker

from tests.support.stack import Stack


def _write_token(directory: str, token: str) -> None:
    # Atomic replace, as a Kubernetes Secret volume does: readers see the old or the new file.
    tmp = os.path.join(directory, ".token.tmp")
    with open(tmp, "w") as fh:
        fh.write(token + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(directory, "token"))


def test_bearer_auth_rotation_cache_and_teardown(client: docker.DockerClient) -> None:
    token_dir = tempfile.mkdtemp(prefix="invtest-token-")
    os.chmod(token_dir, 0o755)
    _write_token(token_dir, "first-token-value")
    stack = Stack(env={"API_TOKEN_DIR": token_dir}, compose_files=("compose.yaml", "compose.auth.yaml"))
    stack.up()
    try:
        good = {"Authorization": "Bearer first-token-value"}
        assert stack.get("/api/containers", headers=good).status_code == 200
        # Same URL right after, without / with a wrong token: never a cached 200.
        anon = stack.get("/api/containers")
        assert anon.status_code == 401 and anon.headers["Content-Type"].startswith("application/problem+json")
        assert anon.headers.get("X-Cache-Status") != "HIT"
        assert stack.get("/api/containers", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert stack.get("/api/posture").status_code == 401
        assert stack.get("/healthz").status_code == 200 and stack.get("/readyz").status_code == 200
        _write_token(token_dir, "second-token-value")
        time.sleep(0.2)
        assert stack.get("/api/containers", headers=good).status_code == 401
        assert stack.get("/api/containers", headers={"Authorization": "Bearer second-token-value"}).status_code == 200
        for c in stack.containers():
            logs = c.logs().decode(errors="replace")
            assert "first-token-value" not in logs and "second-token-value" not in logs, c.name
    finally:
        stack.down()
    label = f"com.docker.compose.project={stack.project}"
    assert client.containers.list(all=True, filters={"label": label}) == []
    assert client.networks.list(filters={"label": label}) == []
    assert client.volumes.list(filters={"label": label}) == []

"""Image hygiene: numeric non-root users, HEALTHCHECK, OCI labels, nothing left from the build."""

from __future__ import annotations

import docker
import pytest

from tests.support.stack import image_tag

IMAGES = {"flask-api": "10001:10001", "nginx-proxy": "10002:10002", "socket-proxy": "10003:10003"}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_metadata(client: docker.DockerClient, name: str) -> None:
    image = client.images.get(f"{name}:{image_tag()}")
    config = image.attrs["Config"]
    assert config["User"] == IMAGES[name]
    assert config["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    labels = config["Labels"]
    for key in ("version", "revision", "created", "source", "title"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.title"] == name


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_no_build_tools_caches_or_ca_secret(client: docker.DockerClient, name: str) -> None:
    script = (
        "for t in gcc cc make pip pip3 git curl wget; do command -v $t && echo FOUND-$t; done; "
        "ls /root/.cache /var/lib/apt/lists/*_Packages 2>/dev/null && echo FOUND-cache; "
        "ls /run/secrets 2>/dev/null && echo FOUND-secret; "
        "find / -xdev -name 'pip' -path '*bin*' 2>/dev/null | grep -q . && echo FOUND-pip-bin; echo done"
    )
    out = client.containers.run(
        f"{name}:{image_tag()}", ["bash", "-c", script], entrypoint=[], remove=True, network_disabled=True
    ).decode()
    assert out.strip().endswith("done") and "FOUND" not in out, out


def test_flask_api_has_its_dependencies_and_the_kubernetes_client(client: docker.DockerClient) -> None:
    out = client.containers.run(
        f"flask-api:{image_tag()}",
        ["python3", "-c", "import inventory.app, kubernetes.client, kubernetes.watch, kubernetes.config; print('ok')"],
        remove=True,
        network_disabled=True,
    ).decode()
    assert out.strip() == "ok"

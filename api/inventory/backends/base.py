"""The backend interface: what a backend answers (its model and errors live in ``inventory.model``).

A backend answers three questions: is the engine reachable (``ping``), which containers
exist (``list_containers``: one engine call, no per-container detail), and what are the
security-relevant settings of one container (``inspect``). It returns the typed model of
``inventory.model``. Everything above this layer (caching, filtering, pagination, posture
rules, HTTP) is backend-agnostic.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..model import Container, ContainerDetail


class Backend(Protocol):
    name: str

    def ping(self) -> dict[str, Any]:
        """Return engine identity (version, api version); raise BackendUnavailable."""

    def list_containers(self, include_stopped: bool) -> list[Container]:
        """All containers in one engine call; raise BackendUnavailable."""

    def inspect(self, container_id: str) -> ContainerDetail:
        """Security detail of one container by full id; raise NotFound / BackendUnavailable."""


MUTABLE_TAGS = ("latest",)


def capability(name: str) -> str:
    """Docker accepts ``CAP_NET_ADMIN`` and ``net_admin``; compare the canonical ``NET_ADMIN``."""
    name = name.strip().upper()
    return name[4:] if name.startswith("CAP_") else name


def image_reference_flags(reference: str) -> tuple[bool, bool]:
    """Return (pinned_by_digest, mutable_tag) for an image reference as the user wrote it."""
    if "@sha256:" in reference or reference.startswith("sha256:"):
        return True, False  # by digest, or by local content-addressed image id
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return False, True  # untagged means :latest
    tag = last.rsplit(":", 1)[1]
    return False, tag in MUTABLE_TAGS


SOCKET_PATHS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock", "/var/run/podman/podman.sock")


def is_docker_socket(path: str) -> bool:
    path = path.rstrip("/")
    return path in SOCKET_PATHS or path.endswith(("/docker.sock", "/podman.sock", "/containerd.sock"))

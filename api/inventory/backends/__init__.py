"""Container backends behind one small interface (see ``base.Backend``)."""

from __future__ import annotations

from ..fleet.config import SourceConfig
from .base import Backend

__all__ = ["Backend", "make_backend"]


def make_backend(source: SourceConfig) -> Backend:
    """Build the backend of one source; imports lazily so each backend's deps stay optional."""
    if source.kind == "kubernetes":
        from .kubernetes import KubernetesBackend

        return KubernetesBackend(source)
    from .docker import DockerBackend

    return DockerBackend(source)

"""Container backends behind one small interface (see ``base.Backend``)."""

from __future__ import annotations

from ..config import Settings
from .base import AmbiguousReference, Backend, BackendUnavailable, NotFound

__all__ = ["AmbiguousReference", "Backend", "BackendUnavailable", "NotFound", "make_backend"]


def make_backend(settings: Settings) -> Backend:
    """Build the backend the settings name; imports lazily so each backend's deps stay optional."""
    if settings.backend == "kubernetes":
        from .kubernetes import KubernetesBackend

        return KubernetesBackend(settings)
    from .docker import DockerBackend

    return DockerBackend(settings)

"""Kubernetes backend: pods -> one ``Container`` per container, from a watch-backed cache.

A listing must not cost an API call per pod, nor one per request: each watched scope
(one namespace, or the whole cluster) is listed once (paginated) and then kept current by
a watch in a background thread, like client-go's informers. Requests read the in-memory
cache, which holds only the trimmed fields this module needs (no env, command, args,
annotations or managedFields), so memory is bounded by pod count, not by event history.
A watch that expires (410 Gone) relists. ``ping`` asks the API server (``GET /version``)
so readiness turns 503 when it is unreachable; listing before the first sync, or while
the API server is unreachable, raises ``BackendUnavailable``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from ...fleet.config import SourceConfig
from ...metrics import track_backend_call
from ...model import BackendUnavailable, Container, ContainerDetail, NotFound
from .informer import ERRORS, PodInformer
from .mapping import container_from_pod, container_id_for, iter_containers, runtime_id, security_from_pod
from .trim import trim_pod

__all__ = ["KubernetesBackend", "PodInformer", "container_from_pod", "runtime_id", "security_from_pod", "trim_pod"]


def _api_client(source: SourceConfig) -> client.ApiClient:
    cfg = client.Configuration()
    try:
        if source.api_url:
            cfg.host = source.api_url.rstrip("/")
        elif source.in_cluster:
            config.load_incluster_config(client_configuration=cfg)  # refreshes the projected token as it rotates
        else:
            config.load_kube_config(
                config_file=source.kubeconfig or None,
                context=source.context or None,
                client_configuration=cfg,
            )
    except (ConfigException, OSError) as exc:
        raise BackendUnavailable(f"kubernetes config not found: {exc.__class__.__name__}") from exc
    cfg.retries = 0  # fail fast; the informer retries with backoff and readiness reports the outage
    return client.ApiClient(cfg)


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, source: SourceConfig) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._api: client.ApiClient | None = None
        self._informers: list[PodInformer] = []
        self._index: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]] = {}
        self._index_key: tuple[int, ...] = ()
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Called (from informer threads) whenever the pod cache changes or its health does."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    def sync_state(self) -> tuple[tuple[int, ...], bool, str | None]:
        """(generation key, synced and healthy, error) without waiting: what the live state is built on."""
        self._client()
        synced = all(i.synced.is_set() and i.healthy for i in self._informers)
        errors = [i.error for i in self._informers if i.synced.is_set() and not i.healthy]
        return tuple(i.generation for i in self._informers), synced, errors[0] if errors else None

    def _client(self) -> client.ApiClient:
        # Built lazily and informers started lazily: gunicorn forks workers after import, threads must start after.
        with self._lock:
            if self._api is None:
                self._api = _api_client(self._source)
                core = client.CoreV1Api(self._api)
                scopes: list[str | None] = list(self._source.namespaces) or [None]
                self._informers = [PodInformer(core, ns, self._source.timeout, self._changed) for ns in scopes]
                for informer in self._informers:
                    informer.start()
            return self._api

    def close(self) -> None:
        for informer in self._informers:
            informer.stop()

    def _pods(self) -> list[dict[str, Any]]:
        self._client()
        deadline = time.monotonic() + self._source.timeout
        pods: list[dict[str, Any]] = []
        for informer in self._informers:
            if not informer.synced.wait(max(0.0, deadline - time.monotonic())) or not informer.healthy:
                raise BackendUnavailable(informer.error or "kubernetes pod cache not synced")
            pods.extend(informer.pods())
        return pods

    def ping(self) -> dict[str, Any]:
        with track_backend_call(self.name, "ping"):
            try:
                info = client.VersionApi(self._client()).get_code(_request_timeout=self._source.timeout)
            except ERRORS as exc:
                raise BackendUnavailable(f"kubernetes API unreachable: {exc.__class__.__name__}") from exc
        return {"engine": "kubernetes", "version": info.git_version, "api_version": f"{info.major}.{info.minor}"}

    def list_containers(self, include_stopped: bool) -> list[Container]:
        with track_backend_call(self.name, "list"):
            pods = self._pods()
        items = [container_from_pod(pod, spec, status) for pod in pods for spec, status in iter_containers(pod)]
        return items if include_stopped else [c for c in items if c.state == "running"]

    def inspect(self, container_id: str) -> ContainerDetail:
        with track_backend_call(self.name, "inspect"):
            pods = self._pods()
            # A posture report inspects every container: index ids once per cache generation, not per call.
            key = tuple(i.generation for i in self._informers)
            with self._lock:
                if key != self._index_key:
                    self._index = {
                        container_id_for(pod, spec, status): (pod, spec, status)
                        for pod in pods
                        for spec, status in iter_containers(pod)
                    }
                    self._index_key = key
                found = self._index.get(container_id)
            if found is None:
                raise NotFound(container_id)
        pod, spec, status = found
        return ContainerDetail(container_from_pod(pod, spec, status), security_from_pod(pod, spec))

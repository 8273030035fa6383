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

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.utils.quantity import parse_quantity
from urllib3.exceptions import HTTPError

from ..config import Settings
from ..metrics import track_backend_call
from .base import (
    BackendUnavailable,
    Container,
    ContainerDetail,
    Mount,
    NotFound,
    Port,
    Security,
    image_reference_flags,
    is_docker_socket,
)

log = logging.getLogger("inventory.kubernetes")

_ERRORS = (ApiException, HTTPError, OSError, ValueError)
PAGE_SIZE = 500
WATCH_TIMEOUT_SECONDS = 240  # server closes the watch after this; we re-watch from the last resourceVersion
MAX_BACKOFF_SECONDS = 10.0
# (spec key, status key) per container kind.
_KINDS = (
    ("initContainers", "initContainerStatuses"),
    ("containers", "containerStatuses"),
    ("ephemeralContainers", "ephemeralContainerStatuses"),
)
_VOLUME_TYPES = (
    "hostPath",
    "emptyDir",
    "secret",
    "configMap",
    "projected",
    "persistentVolumeClaim",
    "downwardAPI",
    "csi",
    "ephemeral",
    "nfs",
    "image",
)


# --- trimming: what the cache keeps of a pod --------------------------------------------------------------------


def _trim_container(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": c.get("name", ""),
        "image": c.get("image", ""),
        "securityContext": c.get("securityContext") or {},
        "limits": (c.get("resources") or {}).get("limits") or {},
        "ports": [
            {k: p[k] for k in ("containerPort", "protocol", "hostPort", "hostIP") if k in p}
            for p in c.get("ports") or []
        ],
        "volumeMounts": [
            {k: m[k] for k in ("name", "mountPath", "readOnly") if k in m} for m in c.get("volumeMounts") or []
        ],
        "probes": sorted(p for p in ("livenessProbe", "readinessProbe", "startupProbe") if c.get(p)),
    }


def _trim_volume(v: dict[str, Any]) -> dict[str, Any]:
    kind = next((t for t in _VOLUME_TYPES if t in v), "other")
    source = (v.get("hostPath") or {}).get("path", "") if kind == "hostPath" else v.get("name", "")
    return {"name": v.get("name", ""), "type": kind, "source": source}


def trim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """Keep only what the inventory needs; secrets-adjacent fields (env, args, annotations) never enter memory."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    trimmed_spec: dict[str, Any] = {
        k: spec.get(k) for k in ("nodeName", "hostNetwork", "hostPID", "hostIPC", "securityContext") if k in spec
    }
    trimmed_spec["volumes"] = [_trim_volume(v) for v in spec.get("volumes") or []]
    for spec_key, _ in _KINDS:
        trimmed_spec[spec_key] = [_trim_container(c) for c in spec.get(spec_key) or []]
    return {
        "metadata": {
            k: meta.get(k)
            for k in ("name", "namespace", "uid", "labels", "creationTimestamp", "resourceVersion", "deletionTimestamp")
            if k in meta
        },
        "spec": trimmed_spec,
        "status": {k: status.get(k) for k in ("phase", "startTime", *tuple(s for _, s in _KINDS)) if k in status},
    }


# --- mapping: a trimmed pod -> containers --------------------------------------------------------------------------


def runtime_id(container_id: str | None) -> str | None:
    """``containerd://abc`` -> ``abc`` (any runtime scheme); None when the container has not started."""
    if not container_id:
        return None
    return container_id.split("://", 1)[1] if "://" in container_id else container_id


def _state(status: dict[str, Any] | None) -> tuple[str, str, str | None]:
    """(Docker-compatible state, human status, started_at) from a containerStatus."""
    if not status:
        return "created", "Pending", None
    state = status.get("state") or {}
    if "running" in state:
        return "running", "Running", (state["running"] or {}).get("startedAt")
    if "terminated" in state:
        t = state["terminated"] or {}
        return "exited", f"Terminated: {t.get('reason', '')} (exit {t.get('exitCode', '?')})", t.get("startedAt")
    reason = (state.get("waiting") or {}).get("reason", "Waiting")
    return ("restarting" if reason == "CrashLoopBackOff" else "created"), f"Waiting: {reason}", None


def _health(spec: dict[str, Any], status: dict[str, Any] | None, state: str) -> str:
    if not spec.get("probes") or state != "running" or not status:
        return "none"
    if status.get("started") is False:
        return "starting"
    return "healthy" if status.get("ready") else "unhealthy"


def _iter_containers(pod: dict[str, Any]) -> Iterable[tuple[dict[str, Any], dict[str, Any] | None]]:
    spec, status = pod["spec"], pod["status"]
    for spec_key, status_key in _KINDS:
        statuses = {s.get("name"): s for s in status.get(status_key) or []}
        for c in spec.get(spec_key) or []:
            yield c, statuses.get(c["name"])


def container_id_for(pod: dict[str, Any], spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    meta = pod["metadata"]
    rid = runtime_id((status or {}).get("containerID"))
    return rid or f"{meta.get('namespace', '')}.{meta.get('name', '')}.{spec['name']}"


def container_from_pod(pod: dict[str, Any], spec: dict[str, Any], status: dict[str, Any] | None) -> Container:
    meta = pod["metadata"]
    state, human, started = _state(status)
    namespace, pod_name = meta.get("namespace", ""), meta.get("name", "")
    return Container(
        id=container_id_for(pod, spec, status),
        names=[f"{namespace}/{pod_name}/{spec['name']}"],
        image=spec.get("image", ""),
        image_id=(status or {}).get("imageID", ""),
        state=state,
        status=human,
        created=meta.get("creationTimestamp"),
        started_at=started,
        ports=[
            Port(
                private_port=int(p.get("containerPort", 0)),
                protocol=str(p.get("protocol", "TCP")).lower(),
                public_port=p.get("hostPort"),
                ip=p.get("hostIP"),
            )
            for p in spec.get("ports") or []
        ],
        health=_health(spec, status, state),
        labels=dict(meta.get("labels") or {}),
        namespace=namespace,
        pod=pod_name,
        node=pod["spec"].get("nodeName"),
        restart_count=int((status or {}).get("restartCount", 0)),
    )


def _quantity(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(parse_quantity(value))
    except ValueError:
        return None


def security_from_pod(pod: dict[str, Any], spec: dict[str, Any]) -> Security:
    pod_spec = pod["spec"]
    pod_sc = pod_spec.get("securityContext") or {}
    sc = spec.get("securityContext") or {}
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if uid is not None:
        user = f"{uid}:{gid}" if gid is not None else str(uid)
    else:
        # The kubelet refuses to start a root image when runAsNonRoot is true, so this is non-root.
        user = "non-root" if non_root else ""
    caps = sc.get("capabilities") or {}
    privileged = bool(sc.get("privileged"))
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    mounts = []
    for m in spec.get("volumeMounts") or []:
        vol = volumes.get(m.get("name", ""), {"type": "other", "source": m.get("name", "")})
        host = vol["type"] == "hostPath"
        mounts.append(
            Mount(
                type=vol["type"],
                source=vol["source"],
                destination=m.get("mountPath", ""),
                read_only=bool(m.get("readOnly")),
                docker_socket=host and (is_docker_socket(vol["source"]) or is_docker_socket(m.get("mountPath", ""))),
            )
        )
    memory = _quantity(spec["limits"].get("memory"))
    pinned, mutable = image_reference_flags(spec.get("image", ""))
    return Security(
        user=user,
        privileged=privileged,
        read_only_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        cap_add=sorted(caps.get("add") or []),
        cap_drop=sorted(caps.get("drop") or []),
        # Kubernetes always allows escalation for privileged containers, whatever the flag says.
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False and not privileged,
        host_network=bool(pod_spec.get("hostNetwork")),
        host_pid=bool(pod_spec.get("hostPID")),
        host_ipc=bool(pod_spec.get("hostIPC")),
        mounts=mounts,
        memory_limit_bytes=int(memory) if memory else None,
        cpu_limit=_quantity(spec["limits"].get("cpu")),
        healthcheck=any(p in spec.get("probes", ()) for p in ("livenessProbe", "readinessProbe")),
        image_pinned_by_digest=pinned,
        image_mutable_tag=mutable,
    )


# --- the watch-backed cache ----------------------------------------------------------------------------------------


class PodInformer:
    """List once, then watch, for one scope (a namespace, or all namespaces when ``namespace`` is None)."""

    def __init__(
        self, api: client.CoreV1Api, namespace: str | None, timeout: float, on_change: Callable[[], None] | None = None
    ) -> None:
        self._api = api
        self._on_change = on_change or (lambda: None)
        self._namespace = namespace
        self._timeout = timeout
        self._pods: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.synced = threading.Event()
        self.healthy = False
        self.error = "not synced yet"
        self._stop = threading.Event()
        self._resp: Any = None
        self._thread = threading.Thread(target=self._run, name=f"pod-informer-{namespace or 'all'}", daemon=True)
        self.resource_version = ""
        self.generation = 0  # bumped on every change so the backend knows when to rebuild its id index
        self.lists = 0  # how many full lists this informer made (1 + one per 410 Gone / reconnect)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        # Shut the socket down (not close(): that would wait on the reader's lock) to unblock a waiting watch.
        sock = getattr(getattr(self._resp, "connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pods(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._pods.values())

    def _list_call(self) -> Callable[..., Any]:
        if self._namespace is None:
            return self._api.list_pod_for_all_namespaces
        return lambda **kw: self._api.list_namespaced_pod(self._namespace, **kw)

    def _relist(self) -> None:
        pods: dict[str, dict[str, Any]] = {}
        cont = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_SIZE, "_preload_content": False, "_request_timeout": self._timeout}
            if cont:
                kwargs["_continue"] = cont
            resp = self._list_call()(**kwargs)
            body = json.loads(resp.data)
            for item in body.get("items") or []:
                trimmed = trim_pod(item)
                pods[trimmed["metadata"].get("uid", "")] = trimmed
            cont = (body.get("metadata") or {}).get("continue")
            if not cont:
                self.resource_version = (body.get("metadata") or {}).get("resourceVersion", "")
                break
        with self._lock:
            self._pods = pods
            self.generation += 1
        self.lists += 1
        self._on_change()

    def _apply(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
            trimmed = trim_pod(obj)
            uid = trimmed["metadata"].get("uid", "")
            with self._lock:
                if event["type"] == "DELETED":
                    self._pods.pop(uid, None)
                else:
                    self._pods[uid] = trimmed
                self.generation += 1
            self._on_change()
        if rv:
            self.resource_version = rv

    def _watch_once(self) -> None:
        """One watch request, read line by line as raw JSON (no model deserialisation: we keep dicts)."""
        kwargs: dict[str, Any] = {
            "watch": True,
            "resource_version": self.resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": WATCH_TIMEOUT_SECONDS,
            "_request_timeout": (self._timeout, WATCH_TIMEOUT_SECONDS + 30),
            "_preload_content": False,
        }
        resp = self._list_call()(**kwargs)
        self._resp = resp
        try:
            for line in watch.watch.iter_resp_lines(resp):
                if self._stop.is_set():
                    break
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":  # a Status object, e.g. 410 Expired
                    obj = event.get("object") or {}
                    raise ApiException(status=int(obj.get("code") or 500), reason=str(obj.get("reason", "")))
                self._apply(event)
        finally:
            self._resp = None
            resp.release_conn()

    def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                    self.healthy, self.error = True, ""
                    self.synced.set()
                    self._on_change()
                self._watch_once()
                backoff = 0.2
            except ApiException as exc:
                if exc.status == 410:  # our resourceVersion is too old: start over from a fresh list
                    log.info("pod watch expired (410 Gone), relisting", extra={"namespace": self._namespace or "*"})
                    need_list = True
                    continue
                self._failed(f"kubernetes API error {exc.status}")
                need_list = True
            except _ERRORS as exc:
                self._failed(f"kubernetes API unreachable: {exc.__class__.__name__}")
                need_list = True
            except Exception as exc:
                log.exception("pod informer crashed, resyncing")
                self._failed(f"kubernetes pod cache error: {exc.__class__.__name__}")
                need_list = True
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _failed(self, reason: str) -> None:
        if self._stop.is_set():
            return  # closing: the connection was shut down on purpose
        if self.healthy or self.error != reason:
            log.warning("pod informer failed", extra={"namespace": self._namespace or "*", "reason": reason})
        self.healthy, self.error = False, reason
        self._on_change()


def _api_client(settings: Settings) -> client.ApiClient:
    cfg = client.Configuration()
    try:
        if settings.k8s_api_url:
            cfg.host = settings.k8s_api_url.rstrip("/")
        elif settings.k8s_in_cluster:
            config.load_incluster_config(client_configuration=cfg)  # refreshes the projected token as it rotates
        else:
            config.load_kube_config(
                config_file=settings.k8s_kubeconfig or None,
                context=settings.k8s_context or None,
                client_configuration=cfg,
            )
    except (ConfigException, OSError) as exc:
        raise BackendUnavailable(f"kubernetes config not found: {exc.__class__.__name__}") from exc
    cfg.retries = 0  # fail fast; the informer retries with backoff and readiness reports the outage
    return client.ApiClient(cfg)


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
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
                self._api = _api_client(self._settings)
                core = client.CoreV1Api(self._api)
                scopes: list[str | None] = list(self._settings.k8s_namespaces) or [None]
                self._informers = [PodInformer(core, ns, self._settings.engine_timeout, self._changed) for ns in scopes]
                for informer in self._informers:
                    informer.start()
            return self._api

    def close(self) -> None:
        for informer in self._informers:
            informer.stop()

    def _pods(self) -> list[dict[str, Any]]:
        self._client()
        deadline = time.monotonic() + self._settings.engine_timeout
        pods: list[dict[str, Any]] = []
        for informer in self._informers:
            if not informer.synced.wait(max(0.0, deadline - time.monotonic())) or not informer.healthy:
                raise BackendUnavailable(informer.error or "kubernetes pod cache not synced")
            pods.extend(informer.pods())
        return pods

    def ping(self) -> dict[str, Any]:
        with track_backend_call(self.name, "ping"):
            try:
                info = client.VersionApi(self._client()).get_code(_request_timeout=self._settings.engine_timeout)
            except _ERRORS as exc:
                raise BackendUnavailable(f"kubernetes API unreachable: {exc.__class__.__name__}") from exc
        return {"engine": "kubernetes", "version": info.git_version, "api_version": f"{info.major}.{info.minor}"}

    def list_containers(self, include_stopped: bool) -> list[Container]:
        with track_backend_call(self.name, "list"):
            pods = self._pods()
        items = [container_from_pod(pod, spec, status) for pod in pods for spec, status in _iter_containers(pod)]
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
                        for spec, status in _iter_containers(pod)
                    }
                    self._index_key = key
                found = self._index.get(container_id)
            if found is None:
                raise NotFound(container_id)
        pod, spec, status = found
        return ContainerDetail(container_from_pod(pod, spec, status), security_from_pod(pod, spec))

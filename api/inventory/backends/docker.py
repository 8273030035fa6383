"""Docker Engine API backend (also Podman's Docker-compatible API).

Uses the docker SDK's low-level ``APIClient`` on purpose: the high-level
``containers.list()`` inspects every container, this backend makes exactly one
``GET /containers/json`` per listing. In production the API talks to the engine
through the socket proxy (``socket-proxy/``), which also strips environment and
command lines from inspect responses before they reach us.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import docker
from docker.constants import DEFAULT_DOCKER_API_VERSION, MINIMUM_DOCKER_API_VERSION
from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from docker.tls import TLSConfig
from requests.exceptions import RequestException

from ..fleet.config import SourceConfig
from ..metrics import track_backend_call
from ..model import BackendUnavailable, Container, ContainerDetail, ContainerEvent, Mount, NotFound, Port, Security
from .base import capability, image_reference_flags, is_docker_socket
from .docker_events import read_events

_ERRORS = (DockerException, RequestException, OSError)


def _iso_from_epoch(value: Any) -> str | None:
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(value, tz=UTC).isoformat().replace("+00:00", "Z")


def _iso(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return value


def _health_from_status(status: str) -> str:
    if "(healthy)" in status:
        return "healthy"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(health: starting)" in status:
        return "starting"
    return "none"


_UP = re.compile(r"^Up .+?(?P<suffix> \((?:Paused|healthy|unhealthy|health: starting)\))?$")
_EXITED = re.compile(r"^(?P<what>Exited|Restarting) \((?P<code>-?\d+)\) .+ ago$")


def stable_status(status: str) -> str:
    """Drop the engine's relative time ("Up 5 minutes", "Exited (0) 2 hours ago"): it changes by itself,
    without any event, so it would make every answer look new. ``started_at`` carries the time."""
    up = _UP.match(status)
    if up:
        return "Up" + (up.group("suffix") or "")
    exited = _EXITED.match(status)
    if exited:
        return f"{exited.group('what')} ({exited.group('code')})"
    return status


def container_from_list_entry(raw: dict[str, Any]) -> Container:
    """Normalise one element of ``GET /containers/json``."""
    ports = [
        Port(
            private_port=int(p.get("PrivatePort", 0)),
            protocol=p.get("Type", "tcp"),
            public_port=p.get("PublicPort"),
            ip=p.get("IP"),
        )
        for p in raw.get("Ports") or []
    ]
    status = raw.get("Status", "") or ""
    return Container(
        id=raw["Id"],
        names=[n.lstrip("/") for n in raw.get("Names") or []],
        image=raw.get("Image", ""),
        image_id=raw.get("ImageID", ""),
        state=raw.get("State", "unknown"),
        status=stable_status(status),
        created=_iso_from_epoch(raw.get("Created")),
        ports=ports,
        health=_health_from_status(status),
        labels=dict(raw.get("Labels") or {}),
    )


def _security_opts(opts: list[str]) -> dict[str, list[str]]:
    """``["seccomp=unconfined", "label:type:x", "no-new-privileges"]`` -> {key: [values]} (both separators)."""
    parsed: dict[str, list[str]] = {}
    for opt in opts:
        sep = min((i for i in (opt.find("="), opt.find(":")) if i >= 0), default=-1)
        key, value = (opt[:sep], opt[sep + 1 :]) if sep >= 0 else (opt, "")
        parsed.setdefault(key.strip().lower(), []).append(value.strip())
    return parsed


def _seccomp(opts: dict[str, list[str]]) -> str:
    values = opts.get("seccomp") or []
    if not values:
        return "default"  # the engine's default profile applies
    return "unconfined" if "unconfined" in values else "localhost"


def _selinux(opts: dict[str, list[str]]) -> tuple[bool, dict[str, str]]:
    disabled, options = False, {}
    for value in opts.get("label") or []:
        if value == "disable":
            disabled = True
        elif ":" in value:
            key, _, setting = value.partition(":")
            options[key] = setting
    return disabled, options


def _host_ports(bindings: dict[str, Any] | None) -> list[Port]:
    ports = []
    for key, entries in sorted((bindings or {}).items()):
        private, _, proto = key.partition("/")
        for entry in entries or []:
            host_port = str(entry.get("HostPort") or "")
            ports.append(
                Port(
                    private_port=int(private),
                    protocol=proto or "tcp",
                    public_port=int(host_port.split("-")[0]) if host_port else None,  # "" = ephemeral
                    ip=entry.get("HostIp") or "",
                )
            )
    return ports


def detail_from_inspect(raw: dict[str, Any]) -> ContainerDetail:
    """Normalise ``GET /containers/{id}/json`` into the container and its security settings."""
    config = raw.get("Config") or {}
    host = raw.get("HostConfig") or {}
    state = raw.get("State") or {}
    status = state.get("Status", "unknown")
    health = ((state.get("Health") or {}).get("Status")) or "none"
    image_ref = config.get("Image", "")
    pinned, mutable = image_reference_flags(image_ref)
    mounts = [
        Mount(
            type=m.get("Type", ""),
            source=m.get("Source", ""),
            destination=m.get("Destination", ""),
            read_only=not m.get("RW", True),
            docker_socket=is_docker_socket(m.get("Source", "")) or is_docker_socket(m.get("Destination", "")),
            propagation=m.get("Propagation") or "",
        )
        for m in raw.get("Mounts") or []
    ]
    healthcheck = config.get("Healthcheck") or {}
    has_healthcheck = bool(healthcheck.get("Test")) and healthcheck.get("Test") != ["NONE"]
    nano_cpus = host.get("NanoCpus") or 0
    quota, period = host.get("CpuQuota") or 0, host.get("CpuPeriod") or 100000
    cpu_limit = nano_cpus / 1e9 if nano_cpus else (quota / period if quota > 0 else None)
    security_opt = host.get("SecurityOpt") or []
    opts = _security_opts(security_opt)
    selinux_disabled, selinux_options = _selinux(opts)
    apparmor = raw.get("AppArmorProfile") or ((opts.get("apparmor") or [""])[-1])
    restart = host.get("RestartPolicy") or {}
    container = Container(
        id=raw["Id"],
        names=[raw.get("Name", "").lstrip("/")],
        image=image_ref,
        image_id=raw.get("Image", ""),
        state=status,
        status=status,
        created=_iso(raw.get("Created")),
        started_at=_iso(state.get("StartedAt")),
        health=health,
        labels=dict(config.get("Labels") or {}),
        restart_count=raw.get("RestartCount"),
    )
    security = Security(
        user=config.get("User") or "",
        privileged=bool(host.get("Privileged")),
        read_only_rootfs=bool(host.get("ReadonlyRootfs")),
        cap_add=sorted(capability(c) for c in host.get("CapAdd") or []),
        cap_drop=sorted(capability(c) for c in host.get("CapDrop") or []),
        no_new_privileges=any(
            opt.startswith("no-new-privileges") and not opt.endswith("false") for opt in security_opt
        ),
        host_network=host.get("NetworkMode") == "host",
        host_pid=host.get("PidMode") == "host",
        host_ipc=host.get("IpcMode") == "host",
        mounts=mounts,
        memory_limit_bytes=host.get("Memory") or None,
        cpu_limit=cpu_limit,
        healthcheck=has_healthcheck,
        image_pinned_by_digest=pinned,
        image_mutable_tag=mutable,
        host_uts=host.get("UTSMode") == "host",
        host_userns=host.get("UsernsMode") == "host",
        host_ports=_host_ports(host.get("PortBindings")),
        devices=sorted(d.get("PathOnHost", "") for d in host.get("Devices") or []),
        seccomp=_seccomp(opts),
        apparmor=apparmor,
        selinux_disabled=selinux_disabled,
        selinux_options=selinux_options,
        # systempaths=unconfined is not kept in SecurityOpt: the engine empties MaskedPaths instead.
        proc_mount_unmasked="unconfined" in (opts.get("systempaths") or []) or host.get("MaskedPaths") == [],
        sysctls=sorted(host.get("Sysctls") or {}),
        cpu_shares=host.get("CpuShares") or None,
        pids_limit=host.get("PidsLimit") or None,
        restart_policy=restart.get("Name") or "",
        restart_max_retries=int(restart.get("MaximumRetryCount") or 0),
        cgroup_parent=host.get("CgroupParent") or "",
        network_mode=host.get("NetworkMode") or "",
        labels=dict(config.get("Labels") or {}),
    )
    return ContainerDetail(container=container, security=security)


class DockerBackend:
    name = "docker"

    def __init__(self, source: SourceConfig) -> None:
        self._source = source
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._events: Any = None  # the open event-stream response, so close_events() can unblock its reader
        # Seconds per engine call. The live state raises it: its calls run in a background thread, not in a
        # request, and a slow answer on a busy engine should not flip the whole inventory to unsynced.
        self.call_timeout = source.timeout

    def _client_for(self, version: str) -> docker.APIClient:
        tls = self._source.tls
        return docker.APIClient(
            base_url=self._source.url,
            version=version,
            timeout=self.call_timeout,
            # Mutual TLS to a socket proxy: verify it against our CA, present our certificate.
            tls=TLSConfig(client_cert=(tls.cert, tls.key), ca_cert=tls.ca, verify=True) if tls else False,
        )

    def _negotiate(self) -> str:
        """The API version to speak: the engine's ``API-Version`` from GET /_ping, capped at what the SDK knows.

        What the docker CLI does. Not the SDK's version="auto" (GET /version): Podman gathers host information
        for that call and takes seconds, longer than an engine timeout."""
        probe = self._client_for(MINIMUM_DOCKER_API_VERSION)
        try:
            resp = probe._get(probe._url("/_ping", versioned_api=False))
            probe._raise_for_status(resp)
            server = resp.headers.get("Api-Version") or MINIMUM_DOCKER_API_VERSION
        finally:
            probe.close()
        return min(str(server), str(DEFAULT_DOCKER_API_VERSION), key=lambda v: tuple(int(p) for p in v.split(".")))

    def _api(self) -> docker.APIClient:
        # Built lazily: the engine may be down at startup, and the version is negotiated with it.
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._client_for(self._negotiate())
                except (*_ERRORS, ValueError) as exc:
                    raise BackendUnavailable(f"docker engine unreachable: {exc.__class__.__name__}") from exc
            return self._client

    def ping(self) -> dict[str, Any]:
        with track_backend_call(self.name, "ping"):
            try:
                info = self._api().version()
            except _ERRORS as exc:
                raise BackendUnavailable(f"docker engine unreachable: {exc.__class__.__name__}") from exc
        return {"engine": "docker", "version": info.get("Version"), "api_version": info.get("ApiVersion")}

    def list_containers(self, include_stopped: bool) -> list[Container]:
        with track_backend_call(self.name, "list"):
            try:
                raw = self._api().containers(all=include_stopped)
            except _ERRORS as exc:
                raise BackendUnavailable(f"docker engine unreachable: {exc.__class__.__name__}") from exc
        return [container_from_list_entry(item) for item in raw]

    def get_container(self, container_id: str) -> Container | None:
        """One container's list entry (``filters={"id": [...]}``), None when it no longer exists."""
        with track_backend_call(self.name, "list_one"):
            try:
                raw = self._api().containers(all=True, filters={"id": [container_id]})
            except _ERRORS as exc:
                raise BackendUnavailable(f"docker engine unreachable: {exc.__class__.__name__}") from exc
        found = [container_from_list_entry(item) for item in raw if item.get("Id") == container_id]
        return found[0] if found else None

    def events(self, since: float, idle_timeout: float) -> Iterator[ContainerEvent]:
        """Container lifecycle events from ``since`` on, as a long-lived stream.

        The read timeout is ``idle_timeout``: a quiet stream ends with ``StreamIdle`` so the caller can
        resync and reconnect; any other break raises ``BackendUnavailable``.
        """
        api = self._api()
        url = f"{api.base_url}/v{api.api_version}/events"
        params = {"since": f"{since:.9f}", "filters": json.dumps({"type": ["container"]})}
        try:
            resp = api.get(url, params=params, stream=True, timeout=(self.call_timeout, idle_timeout))
        except _ERRORS as exc:
            raise BackendUnavailable(f"docker event stream unreachable: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            resp.close()
            raise BackendUnavailable(f"docker event stream refused: HTTP {resp.status_code}")
        self._events = resp
        return read_events(resp, idle_timeout, _ERRORS)

    def close_events(self) -> None:
        """Unblock a reader waiting on the event stream (shutdown, not close: close waits on the reader)."""
        resp = getattr(self, "_events", None)
        sock = getattr(getattr(getattr(resp, "raw", None), "_connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(2)
            except OSError:
                pass

    def inspect(self, container_id: str) -> ContainerDetail:
        with track_backend_call(self.name, "inspect"):
            try:
                raw = self._api().inspect_container(container_id)
            except DockerNotFound as exc:
                raise NotFound(container_id) from exc
            except APIError as exc:
                if exc.status_code == 404:
                    raise NotFound(container_id) from exc
                raise BackendUnavailable(f"docker engine error {exc.status_code}") from exc
            except _ERRORS as exc:
                raise BackendUnavailable(f"docker engine unreachable: {exc.__class__.__name__}") from exc
        return detail_from_inspect(raw)

"""The normalised container model every backend returns, and the errors a backend raises, at the ground floor
(no imports from the package: problems, posture, the live state and the views all read it).

Backends build these from their engine's answers and keep what the engine says as it says it (labels and, on
Kubernetes, the kept pod annotations stay raw); everything above (posture, live state, history, views) reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class BackendUnavailable(Exception):
    """The engine / API server did not answer in time or refused the call."""


class NotFound(Exception):
    """No container matches the reference."""


class AmbiguousReference(Exception):
    """An id prefix matches more than one container."""

    def __init__(self, ref: str, matches: list[str]) -> None:
        super().__init__(f"{ref!r} matches {len(matches)} containers")
        self.ref = ref
        self.matches = matches


@dataclass(frozen=True)
class SourceHealth:
    """One source's health as every listing and posture answer carries it (its ``sources`` block)."""

    name: str
    status: str  # ok | stale | unavailable | starting
    containers: int | None  # None while unavailable or starting
    error: str | None


@dataclass
class Port:
    private_port: int
    protocol: str = "tcp"
    public_port: int | None = None
    ip: str | None = None


@dataclass
class Container:
    """One container as listed; cheap to produce from a single list call."""

    id: str
    names: list[str]
    image: str
    image_id: str
    state: str
    status: str
    created: str | None
    started_at: str | None = None
    ports: list[Port] = field(default_factory=list)
    health: str = "none"  # healthy | unhealthy | starting | none
    labels: dict[str, str] = field(default_factory=dict)
    # Kubernetes backend only; None on Docker.
    namespace: str | None = None
    pod: str | None = None
    node: str | None = None
    restart_count: int | None = None
    # The engine or cluster it runs on (see inventory.fleet); ids of other sources than the default one
    # are "<source>:<engine id>" so they stay unique across sources.
    source: str = "local"

    @property
    def engine_id(self) -> str:
        """The id the engine itself uses (``docker inspect`` takes this one)."""
        prefix = f"{self.source}:"
        return self.id[len(prefix) :] if self.id.startswith(prefix) else self.id

    @property
    def short_id(self) -> str:
        engine_id = self.engine_id
        return self.id[:12] if engine_id == self.id else f"{self.source}:{engine_id[:12]}"

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.short_id

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["short_id"] = self.short_id
        data["name"] = self.name
        return data


@dataclass
class Mount:
    type: str
    source: str
    destination: str
    read_only: bool
    docker_socket: bool = False
    propagation: str = ""  # "", private, rprivate, shared, rshared, slave, rslave (Kubernetes Bidirectional = rshared)


@dataclass
class Security:
    """Security-relevant settings. Never holds environment, command line or file contents.

    The fields after ``image_mutable_tag`` came with the posture catalog v2; each has a default meaning
    "not set / not applicable" so a backend fills in only what its engine can tell.
    """

    user: str
    privileged: bool
    read_only_rootfs: bool
    cap_add: list[str]
    cap_drop: list[str]
    no_new_privileges: bool
    host_network: bool
    host_pid: bool
    host_ipc: bool
    mounts: list[Mount]
    memory_limit_bytes: int | None
    cpu_limit: float | None
    healthcheck: bool
    image_pinned_by_digest: bool
    image_mutable_tag: bool
    host_uts: bool = False
    host_userns: bool = False
    host_process: bool = False
    run_as_non_root: bool | None = None  # Kubernetes: effective runAsNonRoot; None where it does not exist
    host_ports: list[Port] = field(default_factory=list)  # published / hostPort bindings
    devices: list[str] = field(default_factory=list)  # host device paths
    seccomp: str = "default"  # default | runtime-default | localhost | unconfined | unset
    apparmor: str = ""  # profile name as the engine reports it; "unconfined" matters
    selinux_disabled: bool = False
    selinux_options: dict[str, str] = field(default_factory=dict)  # user, role, type, level
    proc_mount_unmasked: bool = False
    sysctls: list[str] = field(default_factory=list)  # names only, never values
    pod_volume_types: list[str] = field(default_factory=list)  # Kubernetes pod volume types
    cpu_shares: int | None = None
    pids_limit: int | None = None
    restart_policy: str = ""
    restart_max_retries: int = 0
    cgroup_parent: str = ""
    network_mode: str = ""
    probe_hosts: list[str] = field(default_factory=list)  # Kubernetes: `host` of probes and lifecycle hooks
    # Raw, as the engine reports them: the container's labels (Docker) or the pod annotations the Kubernetes
    # backend keeps (backends/kubernetes/trim.py). Posture reads self-waiver requests from them
    # (posture.waivers.waiver_requests); the security view leaves them out (Docker's are in the container's labels).
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["labels"]
        return data


@dataclass
class ContainerDetail:
    container: Container
    security: Security


@dataclass(frozen=True)
class ContainerEvent:
    """A container lifecycle change reported by the engine (id and action only; nothing else is trusted)."""

    id: str
    action: str  # create, start, die, destroy, rename, health_status, ...
    time_nano: int = 0

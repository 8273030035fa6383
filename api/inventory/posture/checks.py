"""One predicate per catalog rule: True means the container's normalised ``Security`` violates it.

The predicates see only ``Security`` (never environment, command line or files), so a rule means the same
for every backend it applies to; what each engine can tell is the backends' business (backends/*).
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import Security

Check = Callable[[Security], bool]

# Pod Security Standards (baseline): capabilities a container may add.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# CIS Docker Benchmark 5.6: host directories that must not be mounted.
SENSITIVE_HOST_DIRS = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")
# Pod Security Standards (baseline): the "safe" sysctls.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
# Pod Security Standards (restricted): allowed volume types.
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SELINUX_TYPES = frozenset({"container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
ALL_INTERFACES = ("", "0.0.0.0", "::")  # noqa: S104  # nosec B104 - compared against, never bound


def _is_root(sec: Security) -> bool:
    user = sec.user.split(":", 1)[0].strip()
    return user in ("", "0", "root")


def _sensitive(path: str) -> bool:
    path = path.rstrip("/") or "/"
    return any(path == d or (d != "/" and path.startswith(d + "/")) for d in SENSITIVE_HOST_DIRS)


def _host_mounts(sec: Security) -> list[str]:
    return [m.source for m in sec.mounts if m.type in ("bind", "hostPath")]


def _selinux_override(sec: Security) -> bool:
    opts = sec.selinux_options
    return (
        sec.selinux_disabled
        or bool(opts.get("user") or opts.get("role"))
        or opts.get("type", "") not in ("", *SELINUX_TYPES)
    )


def _restart_unbounded(sec: Security) -> bool:
    if sec.restart_policy in ("always", "unless-stopped"):
        return True
    return sec.restart_policy == "on-failure" and not 0 < sec.restart_max_retries <= 5


CHECKS: dict[str, Check] = {
    "privileged": lambda s: s.privileged,
    "docker-socket-mounted": lambda s: any(m.docker_socket for m in s.mounts),
    "host-process": lambda s: s.host_process,
    "run-as-root": _is_root,
    "host-network": lambda s: s.host_network,
    "host-pid": lambda s: s.host_pid,
    "host-ipc": lambda s: s.host_ipc,
    "host-uts": lambda s: s.host_uts,
    "host-userns": lambda s: s.host_userns,
    "added-capabilities": lambda s: any(c != "NET_BIND_SERVICE" for c in s.cap_add),
    "capabilities-beyond-baseline": lambda s: any(c not in BASELINE_CAPABILITIES for c in s.cap_add),
    "sensitive-host-mount": lambda s: any(_sensitive(src) for src in _host_mounts(s)),
    "host-path-volume": lambda s: "hostPath" in s.pod_volume_types,
    "host-devices": lambda s: bool(s.devices),
    "seccomp-unconfined": lambda s: s.seccomp == "unconfined",
    "apparmor-unconfined": lambda s: s.apparmor == "unconfined",
    "proc-mount-unmasked": lambda s: s.proc_mount_unmasked,
    "capabilities-not-dropped": lambda s: "ALL" not in s.cap_drop,
    "writable-rootfs": lambda s: not s.read_only_rootfs,
    "no-memory-limit": lambda s: not s.memory_limit_bytes,
    "privilege-escalation": lambda s: not s.no_new_privileges,
    "run-as-non-root-not-enforced": lambda s: s.run_as_non_root is not True,
    "seccomp-not-set": lambda s: s.seccomp not in ("runtime-default", "localhost"),
    "selinux-override": _selinux_override,
    "unsafe-sysctls": lambda s: any(name not in SAFE_SYSCTLS for name in s.sysctls),
    "restricted-volume-types": lambda s: any(t not in RESTRICTED_VOLUME_TYPES for t in s.pod_volume_types),
    "privileged-host-port": lambda s: any(p.public_port is not None and 0 < p.public_port < 1024 for p in s.host_ports),
    "host-port": lambda s: any(p.public_port for p in s.host_ports),
    "probe-host": lambda s: bool(s.probe_hosts),
    "mount-propagation-shared": lambda s: any(m.propagation in ("shared", "rshared") for m in s.mounts),
    "no-pids-limit": lambda s: not s.pids_limit or s.pids_limit <= 0,
    "port-all-interfaces": lambda s: any(p.ip in ALL_INTERFACES or p.ip is None for p in s.host_ports),
    "no-cpu-limit": lambda s: not s.cpu_limit and s.cpu_shares in (None, 0, 1024),
    "no-healthcheck": lambda s: not s.healthcheck,
    "mutable-image-tag": lambda s: s.image_mutable_tag,
    "image-not-pinned": lambda s: not s.image_pinned_by_digest,
    "restart-policy": _restart_unbounded,
    "cgroup-parent": lambda s: bool(s.cgroup_parent),
    "default-bridge": lambda s: s.network_mode in ("default", "bridge"),
}

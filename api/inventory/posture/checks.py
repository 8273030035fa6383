"""One predicate per catalog rule: True means the container's normalised ``Security`` violates it.

The predicates see only ``Security`` (never environment, command line or files), so they mean the same
for every backend; what each backend can fill in is the backends' business (backends/*).
"""

from __future__ import annotations

from collections.abc import Callable

from ..backends.base import Security

Check = Callable[[Security], bool]


def _is_root(sec: Security) -> bool:
    user = sec.user.split(":", 1)[0].strip()
    return user in ("", "0", "root")


CHECKS: dict[str, Check] = {
    "privileged": lambda s: s.privileged,
    "docker-socket-mounted": lambda s: any(m.docker_socket for m in s.mounts),
    "run-as-root": _is_root,
    "host-network": lambda s: s.host_network,
    "host-pid": lambda s: s.host_pid,
    "added-capabilities": lambda s: bool(s.cap_add),
    "writable-rootfs": lambda s: not s.read_only_rootfs,
    "no-memory-limit": lambda s: not s.memory_limit_bytes,
    "privilege-escalation": lambda s: not s.no_new_privileges,
    "no-healthcheck": lambda s: not s.healthcheck,
    "mutable-image-tag": lambda s: s.image_mutable_tag,
}

"""The posture rule set: the single source of truth for rule ids and severities.

The same ids are used by the Kubernetes admission policies (deploy/policies), the
Prometheus alerts (posture findings by rule) and the docs. Change a rule here and the
tests that pin those places tell you what else to update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .backends.base import Security

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    fix: str
    check: Callable[[Security], bool]  # True means the container violates the rule

    def describe(self) -> dict[str, str]:
        return {"id": self.id, "severity": self.severity, "title": self.title, "fix": self.fix}


def _is_root(sec: Security) -> bool:
    user = sec.user.split(":", 1)[0].strip()
    return user in ("", "0", "root")


RULES: tuple[Rule, ...] = (
    Rule(
        "privileged",
        "CRITICAL",
        "Container runs privileged",
        "Remove --privileged / securityContext.privileged; add only the capabilities it needs.",
        lambda s: s.privileged,
    ),
    Rule(
        "docker-socket-mounted",
        "CRITICAL",
        "Container engine socket is mounted",
        "Do not mount the engine socket; put a read-only socket proxy in between.",
        lambda s: any(m.docker_socket for m in s.mounts),
    ),
    Rule(
        "run-as-root",
        "HIGH",
        "Container runs as root",
        "Run as a numeric non-root user (USER 10001 / runAsNonRoot: true).",
        _is_root,
    ),
    Rule(
        "host-network",
        "HIGH",
        "Container shares the host network namespace",
        "Drop --network host / hostNetwork: true.",
        lambda s: s.host_network,
    ),
    Rule(
        "host-pid",
        "HIGH",
        "Container shares the host PID namespace",
        "Drop --pid host / hostPID: true.",
        lambda s: s.host_pid,
    ),
    Rule(
        "added-capabilities",
        "HIGH",
        "Container adds Linux capabilities",
        "Drop ALL capabilities and add none (cap_drop: [ALL]).",
        lambda s: bool(s.cap_add),
    ),
    Rule(
        "writable-rootfs",
        "MEDIUM",
        "Root filesystem is writable",
        "Use --read-only / readOnlyRootFilesystem: true with tmpfs for writable paths.",
        lambda s: not s.read_only_rootfs,
    ),
    Rule(
        "no-memory-limit",
        "MEDIUM",
        "No memory limit",
        "Set a memory limit (--memory / resources.limits.memory).",
        lambda s: not s.memory_limit_bytes,
    ),
    Rule(
        "privilege-escalation",
        "MEDIUM",
        "Privilege escalation is not blocked",
        "Set no-new-privileges (security_opt) / allowPrivilegeEscalation: false.",
        lambda s: not s.no_new_privileges,
    ),
    Rule(
        "no-healthcheck",
        "LOW",
        "No healthcheck",
        "Add a HEALTHCHECK / liveness and readiness probes.",
        lambda s: not s.healthcheck,
    ),
    Rule(
        "mutable-image-tag",
        "LOW",
        "Image referenced by a mutable tag",
        "Reference the image by digest or an immutable version tag, never :latest.",
        lambda s: s.image_mutable_tag,
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def evaluate(security: Security) -> list[dict[str, str]]:
    """Findings for one container, most severe first."""
    return [
        {"rule": rule.id, "severity": rule.severity, "title": rule.title, "fix": rule.fix}
        for rule in RULES
        if rule.check(security)
    ]


def totals(findings: list[dict[str, str]]) -> dict[str, int]:
    counts = {sev: 0 for sev in SEVERITIES}
    for finding in findings:
        counts[finding["severity"]] += 1
    return counts

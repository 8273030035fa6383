"""Policy checks for compose files (neither Trivy nor Checkov scans compose), mirroring the API's posture rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SOCKET = "docker.sock"
# ${VAR:-default} / ${VAR-default} -> default, ${VAR} -> VAR: judge the value compose would use by default.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _expand(value: object) -> str:
    return INTERPOLATION.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(1), str(value))


@dataclass(frozen=True)
class Finding:
    service: str
    rule: str
    message: str

    @property
    def key(self) -> str:
        return f"{self.service}:{self.rule}"


def _volumes(svc: dict[str, Any]) -> list[str]:
    out = []
    for v in svc.get("volumes") or []:
        out.append(str(v.get("source", "")) if isinstance(v, dict) else str(v).split(":", 1)[0])
    return out


def _public_ports(svc: dict[str, Any]) -> list[str]:
    bad = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            if p.get("published") and p.get("host_ip") not in ("127.0.0.1", "::1"):
                bad.append(str(p))
            continue
        parts = _expand(p).rsplit(":", 2)
        if len(parts) < 3 or parts[0] not in ("127.0.0.1", "[::1]"):
            bad.append(str(p))
    return bad


def check_service(name: str, svc: dict[str, Any]) -> list[Finding]:
    f: list[Finding] = []

    def add(rule: str, message: str) -> None:
        f.append(Finding(name, rule, message))

    if svc.get("privileged"):
        add("privileged", "privileged: true gives the container the host's devices and capabilities")
    if any(SOCKET in v for v in _volumes(svc)):
        add("docker-socket-mounted", "the Docker socket is mounted: root on the host for whoever owns the container")
    if str(svc.get("user", "")).split(":", 1)[0] in ("", "0", "root"):
        add("run-as-root", "no non-root `user:` set")
    if svc.get("network_mode") == "host":
        add("host-network", "network_mode: host")
    if svc.get("pid") == "host":
        add("host-pid", "pid: host")
    if svc.get("cap_add"):
        add("added-capabilities", f"cap_add: {svc['cap_add']}")
    if "ALL" not in [str(c).upper() for c in svc.get("cap_drop") or []]:
        add("capabilities-not-dropped", "cap_drop: [ALL] missing")
    if svc.get("read_only") is not True:
        add("writable-rootfs", "read_only: true missing")
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    if not (svc.get("mem_limit") or limits.get("memory")):
        add("no-memory-limit", "no memory limit (mem_limit or deploy.resources.limits.memory)")
    opts = [str(o).replace("=", ":") for o in svc.get("security_opt") or []]
    if not any(o in ("no-new-privileges:true", "no-new-privileges") for o in opts):
        add("privilege-escalation", "security_opt: no-new-privileges:true missing")
    for port in _public_ports(svc):
        add("public-port", f"port {port} is published on all interfaces (use 127.0.0.1:)")
    image = str(svc.get("image", ""))
    if image and "${" not in image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
        add("mutable-image-tag", f"image {image} has no pinned tag")
    return f


def check_compose(path: Path) -> list[Finding]:
    doc = yaml.safe_load(path.read_text()) or {}
    services = doc.get("services") or {}
    if not isinstance(services, dict) or not services:
        return [Finding("-", "no-services", f"{path} defines no services")]
    findings: list[Finding] = []
    for name, svc in services.items():
        findings += check_service(str(name), svc or {})
    return findings

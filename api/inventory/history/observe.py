"""What the recorder sees: containers and findings reduced to the fields history tracks.

The recorder never talks to the engine: it reads the inventory service, which answers from its
live state (``inventory.live``: engine events / informers plus resyncs); one snapshot per look.
Workload identity and the finding fingerprint live here, so a recreated container (same compose service,
same Kubernetes owner + container name) keeps its history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from ..backends.base import Container, ContainerDetail
from ..live import Snapshot
from ..posture import ContainerReport, Finding

DEFAULT_SOURCE = "local"
RUNNING = "running"


@dataclass(frozen=True)
class ContainerObs:
    source: str
    id: str
    name: str
    workload: str
    image: str
    image_id: str
    state: str
    health: str
    started_at: str | None
    restart_count: int | None


@dataclass(frozen=True)
class FindingObs:
    fingerprint: str
    source: str
    workload: str
    rule: str
    severity: str
    container_id: str
    container_name: str
    waived: bool = False
    waiver_expires: dt.datetime | None = None


@dataclass
class Observation:
    containers: dict[tuple[str, str], ContainerObs] = field(default_factory=dict)
    findings: dict[str, FindingObs] = field(default_factory=dict)
    # Containers whose findings were evaluated this time (an inspect can fail for one container;
    # its findings are then carried over instead of being reported as resolved).
    evaluated: set[tuple[str, str]] = field(default_factory=set)


class InventoryReader(Protocol):
    """The part of InventoryService the recorder uses."""

    source: str

    def state(self) -> Snapshot: ...

    def report(self, container: Container, detail: ContainerDetail) -> ContainerReport: ...


_RS_POD = re.compile(r"^(?P<owner>.+)-(?P<hash>[a-z0-9]+)-[a-z0-9]{5}$")
_GENERATED_POD = re.compile(r"^(?P<owner>.+)-[a-z0-9]{5}$")


def _k8s_owner(c: Container) -> str:
    """Deployment / DaemonSet / Job name from the pod name and the controller labels; else the pod name."""
    pod = c.pod or ""
    labels = c.labels
    if "statefulset.kubernetes.io/pod-name" in labels:
        return pod  # stable identity by design
    template_hash = labels.get("pod-template-hash")
    if template_hash and (m := _RS_POD.match(pod)) and m.group("hash") == template_hash:
        return m.group("owner")
    if "job-name" in labels:
        return labels["job-name"]
    if "controller-revision-hash" in labels and (m := _GENERATED_POD.match(pod)):
        return m.group("owner")
    return pod


def workload_identity(c: Container) -> str:
    """compose:<project>/<service>/<n>, k8s:<namespace>/<owner>/<container>, else name:<container name>."""
    if c.namespace is not None:
        container_name = c.names[0].rsplit("/", 1)[-1] if c.names else c.short_id
        return f"k8s:{c.namespace}/{_k8s_owner(c)}/{container_name}"
    project = c.labels.get("com.docker.compose.project")
    service = c.labels.get("com.docker.compose.service")
    if project and service:
        return f"compose:{project}/{service}/{c.labels.get('com.docker.compose.container-number', '1')}"
    return f"name:{c.name}"


def fingerprint(source: str, workload: str, rule: str) -> str:
    return hashlib.sha256(f"{source}\x00{workload}\x00{rule}".encode()).hexdigest()[:32]


def container_obs(c: Container, detail: ContainerDetail | None, source: str = DEFAULT_SOURCE) -> ContainerObs:
    live = detail.container if detail else c
    return ContainerObs(
        source=source,
        id=c.id,
        name=c.name,
        workload=workload_identity(c),
        image=c.image,
        image_id=c.image_id,
        state=live.state or c.state,
        health=live.health or c.health,
        started_at=live.started_at or c.started_at,
        restart_count=live.restart_count if live.restart_count is not None else c.restart_count,
    )


def _waiver_end(f: Finding) -> dt.datetime | None:
    """A waiver is valid through its expiry date (UTC): it lapses at the next midnight."""
    if f.waiver is None:
        return None
    return dt.datetime.combine(f.waiver.expires + dt.timedelta(days=1), dt.time())


def findings_of(obs: ContainerObs, report: ContainerReport) -> list[FindingObs]:
    """Findings of one container from the posture engine (waivers applied), keyed by workload fingerprint."""
    return [
        FindingObs(
            fingerprint=fingerprint(obs.source, obs.workload, f.rule),
            source=obs.source,
            workload=obs.workload,
            rule=f.rule,
            severity=f.severity,
            container_id=obs.id,
            container_name=obs.name,
            waived=f.waived,
            waiver_expires=_waiver_end(f),
        )
        for f in report.findings
    ]


def carry_over(prev: Observation, cur: Observation, sources: set[str]) -> None:
    """Sources that are unavailable this time keep what was last recorded for them: a fleet source that is
    down for a while is not "every container disappeared" (and then "appeared" again)."""
    for key, obs in prev.containers.items():
        if obs.source in sources:
            cur.containers.setdefault(key, obs)
            if key in prev.evaluated:
                cur.evaluated.add(key)
    for fp, f in prev.findings.items():
        if f.source in sources:
            cur.findings.setdefault(fp, f)


def observe(reader: InventoryReader) -> tuple[Observation, int]:
    """One consistent look (one live-state snapshot) at every container, stopped ones included, and its
    findings; returns it with the snapshot version. Raises BackendUnavailable while the state is not synced."""
    snap = reader.state()
    out = Observation()
    for c in snap.containers:
        detail = snap.details.get(c.id)
        obs = container_obs(c, detail, c.source or reader.source)
        key = (obs.source, obs.id)
        out.containers[key] = obs
        if detail is not None:  # no detail yet (inspect pending): findings carried over, not resolved
            out.evaluated.add(key)
            for f in findings_of(obs, reader.report(c, detail)):
                out.findings.setdefault(f.fingerprint, f)  # replicas of one workload share a fingerprint
    return out, snap.version

"""What the recorder sees: containers and findings reduced to the fields history tracks.

The recorder never talks to the engine: it reads the inventory service, which answers from its
live state (``inventory.live``: engine events / informers plus resyncs); one snapshot per look.
Workload identity and the finding fingerprint come from ``inventory.workload`` (the same ones posture
answers carry), so a recreated container (same compose service, same Kubernetes owner + container name)
keeps its history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from ..live import Snapshot
from ..model import Container, ContainerDetail
from ..posture import SEVERITIES, ContainerReport, Finding
from ..workload import workload_identity

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


@dataclass(frozen=True)
class Tally:
    """What one running container adds to the posture totals: unwaived findings by severity (SEVERITIES order)
    and waived ones, exactly as its report counts them in ``GET /api/posture``."""

    open: tuple[int, ...]
    waived: int

    @classmethod
    def of(cls, report: ContainerReport) -> Tally:
        totals = report.totals
        return cls(tuple(totals[s] for s in SEVERITIES), report.waived)


@dataclass
class Observation:
    containers: dict[tuple[str, str], ContainerObs] = field(default_factory=dict)
    findings: dict[str, FindingObs] = field(default_factory=dict)  # by fingerprint: replicas of a workload share one
    # Posture totals per running container (the trend counts what GET /api/posture counts by default).
    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    # Containers whose findings were evaluated this time (an inspect can fail for one container;
    # its findings are then carried over instead of being reported as resolved).
    evaluated: set[tuple[str, str]] = field(default_factory=set)


class InventoryReader(Protocol):
    """The part of InventoryService the recorder uses."""

    source: str

    def state(self) -> Snapshot: ...

    def report(self, container: Container, detail: ContainerDetail) -> ContainerReport: ...


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
            fingerprint=f.fingerprint,  # the posture answer's own: one definition (inventory.workload)
            source=f.source,
            workload=f.workload,
            rule=f.rule,
            severity=f.severity,
            container_id=obs.id,
            container_name=obs.name,
            waived=f.waived,
            waiver_expires=_waiver_end(f),
        )
        for f in report.findings
    ]


def posture_totals(obs: Observation) -> tuple[dict[str, int], int]:
    """Unwaived findings by severity and waived findings over the running containers: the totals of
    ``GET /api/posture`` (default: running only; every replica counts), which the trend samples record."""
    counts = dict.fromkeys(SEVERITIES, 0)
    waived = 0
    for t in obs.tallies.values():
        for severity, n in zip(SEVERITIES, t.open, strict=True):
            counts[severity] += n
        waived += t.waived
    return counts, waived


def carry_over(prev: Observation, cur: Observation, sources: set[str]) -> None:
    """Sources that are unavailable this time keep what was last recorded for them: a fleet source that is
    down for a while is not "every container disappeared" (and then "appeared" again). A running container
    that could not be evaluated this time (inspect pending) keeps its last posture tally, as it keeps its
    findings (see recorder.diff)."""
    for key, obs in prev.containers.items():
        if obs.source in sources:
            cur.containers.setdefault(key, obs)
            if key in prev.evaluated:
                cur.evaluated.add(key)
    for fp, f in prev.findings.items():
        if f.source in sources:
            cur.findings.setdefault(fp, f)
    for key, t in prev.tallies.items():
        now = cur.containers.get(key)
        unevaluated = now is not None and key not in cur.evaluated and now.state == RUNNING
        if key[0] in sources or unevaluated:
            cur.tallies.setdefault(key, t)


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
            report = reader.report(c, detail)
            for f in findings_of(obs, report):
                out.findings.setdefault(f.fingerprint, f)  # replicas of one workload share a fingerprint
            if c.state == RUNNING:  # the listing's state, as GET /api/posture selects
                out.tallies[key] = Tally.of(report)
    return out, snap.version

"""The change rules: previous observation + current observation -> change events (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .observe import RUNNING, ContainerObs, FindingObs, Observation


@dataclass(frozen=True)
class ChangeEvent:
    kind: str
    source: str
    container_id: str
    container_name: str
    workload: str
    rule: str | None = None
    severity: str | None = None
    fingerprint: str | None = None
    old: str | None = None
    new: str | None = None


def _container_event(kind: str, c: ContainerObs, old: str | None = None, new: str | None = None) -> ChangeEvent:
    return ChangeEvent(kind, c.source, c.id, c.name, c.workload, old=old, new=new)


def _finding_event(kind: str, f: FindingObs, old: str | None = None, new: str | None = None) -> ChangeEvent:
    return ChangeEvent(
        kind, f.source, f.container_id, f.container_name, f.workload, f.rule, f.severity, f.fingerprint, old, new
    )


def _restarted(before: ContainerObs, after: ContainerObs) -> bool:
    if after.state != RUNNING:
        return False
    if before.restart_count is not None and after.restart_count is not None:
        if after.restart_count > before.restart_count:
            return True
    if before.state != RUNNING:
        # Running again after it ran before (the first start after create is "started").
        return before.started_at is not None
    return bool(before.started_at and after.started_at and before.started_at != after.started_at)


def _ran_between(before: ContainerObs, after: ContainerObs) -> bool:
    """Started and already stopped again between two looks (created, then exited: a fast crash or kill)."""
    return after.state != RUNNING and after.started_at is not None and after.started_at != before.started_at


def container_changes(before: ContainerObs, after: ContainerObs) -> list[ChangeEvent]:
    out: list[ChangeEvent] = []
    if before.name != after.name:
        out.append(_container_event("renamed", after, before.name, after.name))
    if before.image != after.image or before.image_id != after.image_id:
        out.append(
            _container_event("image_changed", after, before.image_id or before.image, after.image_id or after.image)
        )
    if _restarted(before, after):
        out.append(_container_event("restarted", after, before.started_at, after.started_at))
    elif before.state != after.state and after.state == RUNNING:
        out.append(_container_event("started", after, before.state, after.state))
    elif before.state != after.state and (before.state == RUNNING or _ran_between(before, after)):
        out.append(_container_event("stopped", after, before.state, after.state))
    if before.health != after.health:
        out.append(_container_event("health_changed", after, before.health, after.health))
    return out


def _carry_over(prev: Observation, cur: Observation) -> dict[str, FindingObs]:
    """Current findings, plus the previous ones of containers that are there but could not be evaluated."""
    findings = dict(cur.findings)
    for fp, f in prev.findings.items():
        key = (f.source, f.container_id)
        if key in cur.containers and key not in cur.evaluated:
            findings.setdefault(fp, f)
    return findings


def finding_changes(prev: Observation, cur: Observation, now: dt.datetime) -> list[ChangeEvent]:
    out: list[ChangeEvent] = []
    current = _carry_over(prev, cur)
    for fp, f in current.items():
        before = prev.findings.get(fp)
        if before is None:
            out.append(_finding_event("finding_waived" if f.waived else "finding_opened", f))
        elif f.waived and not before.waived:
            out.append(_finding_event("finding_waived", f))
        elif before.waived and not f.waived:
            expired = before.waiver_expires is not None and before.waiver_expires <= now
            out.append(_finding_event("finding_waiver_expired" if expired else "finding_opened", f))
    for fp, f in prev.findings.items():
        if fp not in current:
            out.append(_finding_event("finding_resolved", f))
    cur.findings = current
    return out


def diff(prev: Observation, cur: Observation, now: dt.datetime) -> list[ChangeEvent]:
    """Every change between two observations, container changes first, in a stable order."""
    out: list[ChangeEvent] = []
    for key, after in cur.containers.items():
        before = prev.containers.get(key)
        if before is None:
            out.append(_container_event("appeared", after, None, after.state))
        else:
            out.extend(container_changes(before, after))
    for key, before in prev.containers.items():
        if key not in cur.containers:
            out.append(_container_event("disappeared", before, before.state, None))
    out.extend(finding_changes(prev, cur, now))
    return out

"""The history store's write side: last recorded state in, one transaction per cycle out."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from ..history.chain import ANCHOR_KEY, GENESIS, HEAD_KEY, Head, content_of, link
from ..history.models import Change, ContainerState, FindingState, PostureSample, RecorderMeta
from ..history.records import ChangeRecord
from ..posture import SEVERITIES
from .diff import ChangeEvent
from .observe import RUNNING, ContainerObs, FindingObs, Observation, Tally, posture_totals

LAST_CYCLE = "last_cycle_at"


def _meta(s: Session, key: str, lock: bool = False) -> str | None:
    row = s.get(RecorderMeta, key, with_for_update=lock)
    return row.value if row else None


def _link(s: Session, rows: list[Change]) -> None:
    """Chain the new rows after the recorded head (locked on PostgreSQL, so writers take turns) and move the head."""
    if not rows:
        return
    s.flush()  # ids are assigned: each row's hash covers its id
    head = Head.decode(_meta(s, HEAD_KEY, lock=True))
    prev = head.hash if head else (_meta(s, ANCHOR_KEY) or GENESIS)
    for row in sorted(rows, key=lambda r: r.id):
        row.prev_hash, row.hash = prev, link(prev, row.id, content_of(row))
        prev = row.hash
    s.merge(RecorderMeta(key=HEAD_KEY, value=Head(max(r.id for r in rows), prev).encode()))


def _container_row(c: ContainerObs) -> ContainerState:
    return ContainerState(
        source=c.source,
        container_id=c.id,
        name=c.name,
        workload=c.workload,
        image=c.image,
        image_id=c.image_id,
        state=c.state,
        health=c.health,
        started_at=c.started_at,
        restart_count=c.restart_count,
    )


def _finding_row(f: FindingObs) -> FindingState:
    return FindingState(
        fingerprint=f.fingerprint,
        source=f.source,
        workload=f.workload,
        rule=f.rule,
        severity=f.severity,
        waived=f.waived,
        waiver_expires=f.waiver_expires,
        container_id=f.container_id,
        container_name=f.container_name,
    )


def _clip(value: str | None) -> str | None:
    return None if value is None else value[:512]


def _tallies(obs: Observation) -> dict[tuple[str, str], Tally]:
    """Per running container tallies rebuilt from the recorded findings (after a restart, until the first look
    evaluates every container again): replicas sharing a fingerprint count once here."""
    tallies: dict[tuple[str, str], list[int]] = {}
    for f in obs.findings.values():
        key = (f.source, f.container_id)
        c = obs.containers.get(key)
        if c is None or c.state != RUNNING or f.severity not in SEVERITIES:
            continue
        row = tallies.setdefault(key, [0] * (len(SEVERITIES) + 1))
        row[-1 if f.waived else SEVERITIES.index(f.severity)] += 1
    return {key: Tally(tuple(row[:-1]), row[-1]) for key, row in tallies.items()}


def _sample_totals(sample: PostureSample | None) -> tuple[dict[str, int], int] | None:
    if sample is None:
        return None
    counts = {"CRITICAL": sample.critical, "HIGH": sample.high, "MEDIUM": sample.medium, "LOW": sample.low}
    return {s: counts.get(s, 0) for s in SEVERITIES}, sample.waived


class HistoryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self) -> tuple[Observation, dt.datetime | None]:
        """The last recorded state and when the last cycle finished (None: nothing recorded yet)."""
        obs = Observation()
        with Session(self.engine) as s:
            for c in s.scalars(select(ContainerState)):
                key = (c.source, c.container_id)
                obs.containers[key] = ContainerObs(
                    c.source,
                    c.container_id,
                    c.name,
                    c.workload,
                    c.image,
                    c.image_id,
                    c.state,
                    c.health,
                    c.started_at,
                    c.restart_count,
                )
                obs.evaluated.add(key)
            for f in s.scalars(select(FindingState)):
                obs.findings[f.fingerprint] = FindingObs(
                    f.fingerprint,
                    f.source,
                    f.workload,
                    f.rule,
                    f.severity,
                    f.container_id,
                    f.container_name,
                    bool(f.waived),
                    f.waiver_expires,
                )
            obs.tallies = _tallies(obs)
            meta = s.get(RecorderMeta, LAST_CYCLE)
        last = dt.datetime.fromisoformat(meta.value) if meta else None
        return obs, last

    def commit(
        self, prev: Observation, cur: Observation, events: list[ChangeEvent], now: dt.datetime, while_away: bool
    ) -> list[ChangeRecord]:
        """Write the changes and the new state in one transaction; return the stored changes."""
        with Session(self.engine) as s, s.begin():
            rows = [
                Change(
                    uid=uuid.uuid4().hex,
                    at=now,
                    kind=e.kind,
                    source=e.source,
                    container_id=e.container_id,
                    container_name=e.container_name,
                    workload=e.workload,
                    rule=e.rule,
                    severity=e.severity,
                    fingerprint=e.fingerprint,
                    old=_clip(e.old),
                    new=_clip(e.new),
                    while_away=while_away,
                )
                for e in events
            ]
            s.add_all(rows)
            _link(s, rows)
            for key, c in cur.containers.items():
                if prev.containers.get(key) != c:
                    s.merge(_container_row(c))
            for key in prev.containers.keys() - cur.containers.keys():
                s.execute(
                    delete(ContainerState).where(ContainerState.source == key[0], ContainerState.container_id == key[1])
                )
            for fp, f in cur.findings.items():
                if prev.findings.get(fp) != f:
                    s.merge(_finding_row(f))
            gone = list(prev.findings.keys() - cur.findings.keys())
            if gone:
                s.execute(delete(FindingState).where(FindingState.fingerprint.in_(gone)))
            # A sample whenever the running containers' totals differ from the last sample (what /api/posture counts).
            last = s.scalars(select(PostureSample).order_by(PostureSample.id.desc()).limit(1)).first()
            after_totals = posture_totals(cur)
            if _sample_totals(last) != after_totals:
                counts, waived = after_totals
                s.add(
                    PostureSample(
                        at=now,
                        critical=counts["CRITICAL"],
                        high=counts["HIGH"],
                        medium=counts["MEDIUM"],
                        low=counts["LOW"],
                        waived=waived,
                    )
                )
            s.merge(RecorderMeta(key=LAST_CYCLE, value=now.isoformat()))
            s.flush()
            return [ChangeRecord.from_row(r) for r in rows]

    def purge(self, before: dt.datetime) -> int:
        """Retention: delete changes and posture samples older than `before` (keeps the last sample). The chain's
        anchor moves to the hash the oldest kept change points at, so the rest of the chain still verifies."""
        with Session(self.engine) as s, s.begin():
            removed = s.execute(delete(Change).where(Change.at < before)).rowcount or 0  # type: ignore[attr-defined]
            if removed:
                oldest = s.scalars(select(Change.prev_hash).order_by(Change.id).limit(1)).first()
                head = Head.decode(_meta(s, HEAD_KEY))
                anchor = oldest if oldest is not None else head.hash if head else GENESIS
                s.merge(RecorderMeta(key=ANCHOR_KEY, value=anchor))
            newest_old = s.scalar(
                select(PostureSample.id).where(PostureSample.at < before).order_by(PostureSample.id.desc())
            )
            if newest_old is not None:
                s.execute(delete(PostureSample).where(PostureSample.id < newest_old))
        return int(removed)

"""One recorder: observe -> diff against the last recorded state -> store -> notify, in a loop."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from ..history.records import ChangeRecord, utcnow
from ..model import BackendUnavailable
from . import metrics
from .diff import diff
from .observe import InventoryReader, Observation, carry_over, observe, posture_totals
from .store import HistoryStore

log = logging.getLogger("inventory.recorder")
HEARTBEAT = 30.0  # seconds between "still alive" writes when nothing changes
PURGE_EVERY = 3600.0


class Recorder:
    def __init__(
        self,
        reader: InventoryReader,
        store: HistoryStore,
        retention_days: int,
        notify: Callable[[list[ChangeRecord]], None] | None = None,
        tasks: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.reader = reader
        self.store = store
        self.retention = dt.timedelta(days=retention_days)
        self.notify = notify or (lambda _changes: None)
        self.tasks = tuple(tasks)  # run after each cycle, e.g. the reports directory (inventory.vulns)
        self.prev: Observation | None = None
        self.version = 0  # live-state version of the last look
        self.away_since: dt.datetime | None = None
        self._last_write = 0.0
        self._last_purge = 0.0
        self.stopping = threading.Event()

    def load(self) -> Observation:
        """Read the last recorded state; the first cycle after this records what changed while away."""
        self.prev, self.away_since = self.store.load()
        if self.away_since is not None:
            log.info("recorder resumes", extra={"last_cycle": self.away_since.isoformat()})
        return self.prev

    def cycle(self) -> list[ChangeRecord]:
        """One observation; returns the stored changes (raises on backend/database errors, state kept)."""
        prev = self.prev if self.prev is not None else self.load()
        started = time.perf_counter()
        now = utcnow()
        unavailable = getattr(self.reader, "unavailable_sources", None)
        before = unavailable() if unavailable else set()
        cur, self.version = observe(self.reader)
        carry_over(prev, cur, before | unavailable() if unavailable else set())
        events = diff(prev, cur, now)
        unchanged = (
            not events
            and cur.containers == prev.containers
            and cur.findings == prev.findings
            and cur.tallies == prev.tallies
        )
        if unchanged and time.monotonic() - self._last_write < HEARTBEAT:
            metrics.CYCLES.labels("unchanged").inc()
            return []
        while_away = self.away_since is not None
        stored = self.store.commit(prev, cur, events, now, while_away)
        self._last_write = time.monotonic()
        self.prev, self.away_since = cur, None
        for change in stored:
            metrics.CHANGES.labels(change.kind, str(change.while_away).lower()).inc()
        counts, _waived = posture_totals(cur)  # running containers, as /api/posture and the trend count
        for severity, count in counts.items():
            metrics.OPEN_FINDINGS.labels(severity).set(count)
        metrics.CYCLES.labels("stored").inc()
        metrics.LAST_SUCCESS.set(time.time())
        metrics.DB_UP.set(1)
        metrics.CYCLE_SECONDS.observe(time.perf_counter() - started)
        if stored:
            self.notify(stored)
        return stored

    def purge_if_due(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY and self._last_purge:
            return
        removed = self.store.purge(utcnow() - self.retention)
        self._last_purge = time.monotonic()
        if removed:
            log.info("retention purge", extra={"removed": removed})

    def run(self, wait: Callable[[int], int]) -> None:
        """Cycle, then ``wait(version)`` until the live state moves past ``version`` (or a timeout) and returns the
        version it saw. A failed cycle observed nothing: the version waited past is the one ``wait`` last saw,
        never an older one (that would return at once and spin while the engine is down)."""
        while not self.stopping.is_set():
            try:
                self.cycle()
                self.purge_if_due()
            except BackendUnavailable as exc:
                metrics.CYCLES.labels("backend_unavailable").inc()
                log.warning("backend unavailable; will retry", extra={"error": str(exc)})
            except SQLAlchemyError as exc:
                metrics.CYCLES.labels("database_error").inc()
                metrics.DB_UP.set(0)
                log.warning("history database unavailable; will retry", extra={"error": type(exc).__name__})
            self.run_tasks()
            if not self.stopping.is_set():
                self.version = max(self.version, wait(self.version))

    def run_tasks(self) -> None:
        """The side tasks, whether or not the backend answered (a reports directory works without an engine)."""
        for task in self.tasks:
            try:
                task()
            except SQLAlchemyError as exc:
                metrics.CYCLES.labels("database_error").inc()
                log.warning("history database unavailable; will retry", extra={"error": type(exc).__name__})

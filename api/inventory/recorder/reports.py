"""The reports directory the recorder watches (air-gapped sites, other CI systems): each new or changed
`*.json` file is parsed and stored; a bad file is logged and counted once per version, and skipped."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter
from sqlalchemy import Engine

from ..vulns.model import ReportError
from ..vulns.parse import parse_report
from ..vulns.store import store_report
from .metrics import REGISTRY

log = logging.getLogger("inventory.vulns")
INGESTED = Counter(
    "inventory_reports_ingested_total",
    "Files of the reports directory by outcome (stored, replaced, unchanged, older, rejected)",
    ["outcome"],
    registry=REGISTRY,
)
REJECTED = Counter(
    "inventory_reports_rejected_total",
    "Rejected report files by reason (oversized, malformed, unsupported, no-digest, unreadable)",
    ["reason"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Ingested:
    file: str
    outcome: str  # a StoreOutcome status, or "rejected"
    reason: str | None = None


class ReportsDirectory:
    def __init__(self, engine: Engine, path: str, max_bytes: int) -> None:
        self.engine = engine
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.seen: dict[str, tuple[int, int]] = {}  # file name -> (mtime_ns, size) of the version handled

    def _reject(self, name: str, reason: str, message: str) -> Ingested:
        INGESTED.labels("rejected").inc()
        REJECTED.labels(reason).inc()
        log.warning("report rejected", extra={"file": name, "reason": reason, "error": message})
        return Ingested(name, "rejected", reason)

    def _one(self, entry: os.DirEntry[str]) -> Ingested:
        st = entry.stat(follow_symlinks=False)
        if st.st_size > self.max_bytes:  # never read an oversized file into memory
            return self._reject(entry.name, "oversized", f"{st.st_size} bytes exceeds {self.max_bytes}")
        with open(entry.path, "rb") as fh:
            raw = fh.read(self.max_bytes + 1)
        try:
            report = parse_report(raw, max_bytes=self.max_bytes)
        except ReportError as exc:
            return self._reject(entry.name, exc.reason, str(exc))
        except Exception as exc:  # noqa: BLE001 (a parser bug must not stop the recorder: report the file, keep going)
            return self._reject(entry.name, "parser-error", type(exc).__name__)
        outcome = store_report(self.engine, report, raw, origin=f"reports-dir:{entry.name}")
        INGESTED.labels(outcome.status).inc()
        log.info("report ingested", extra={"file": entry.name, "outcome": outcome.status, "digest": report.digest})
        return Ingested(entry.name, outcome.status)

    def scan(self) -> list[Ingested]:
        """One pass; database errors propagate (the recorder retries), a file's own problems never do."""
        done: list[Ingested] = []
        try:
            entries = sorted(os.scandir(self.path), key=lambda e: e.name)
        except OSError as exc:
            REJECTED.labels("unreadable").inc()
            log.warning("reports directory unreadable", extra={"error": type(exc).__name__})
            return done
        present = set()
        for entry in entries:
            if (
                entry.name.startswith(".")  # write as .name, then rename it: never half a file
                or not entry.name.endswith(".json")
                or not entry.is_file(follow_symlinks=False)
            ):
                continue
            present.add(entry.name)
            try:
                st = entry.stat(follow_symlinks=False)
                version = (st.st_mtime_ns, st.st_size)
                if self.seen.get(entry.name) == version:
                    continue
                result = self._one(entry)
            except OSError as exc:  # vanished or unreadable between listing and reading: next pass retries
                done.append(self._reject(entry.name, "unreadable", type(exc).__name__))
                continue
            self.seen[entry.name] = version
            done.append(result)
        for gone in self.seen.keys() - present:
            del self.seen[gone]
        return done

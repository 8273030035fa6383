"""The change vocabulary both directions share: the kinds of change, and a stored change as it crosses layers.

The recorder (``inventory.recorder``) writes changes; the read API (``query``, ``views``), the dashboard's
timeline and the webhook sink read them. Both sides import this module; the read side never imports the recorder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import Change

CONTAINER_KINDS = (
    "appeared",
    "disappeared",
    "started",
    "stopped",
    "restarted",
    "renamed",
    "image_changed",
    "health_changed",
)
FINDING_KINDS = ("finding_opened", "finding_resolved", "finding_waived", "finding_waiver_expired")
# Image reports (inventory.vulns): the first report of an image digest, and a newer one replacing it.
IMAGE_KINDS = ("report_stored", "report_replaced")
KINDS = CONTAINER_KINDS + FINDING_KINDS + IMAGE_KINDS


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class ChangeRecord:
    """One stored change as it crosses layers (API answers, webhook bodies)."""

    id: int
    uid: str
    at: dt.datetime
    kind: str
    source: str
    container_id: str
    container_name: str
    workload: str
    rule: str | None
    severity: str | None
    fingerprint: str | None
    old: str | None
    new: str | None
    while_away: bool

    @classmethod
    def from_row(cls, row: Change) -> ChangeRecord:
        return cls(
            row.id,
            row.uid,
            row.at,
            row.kind,
            row.source,
            row.container_id,
            row.container_name,
            row.workload,
            row.rule,
            row.severity,
            row.fingerprint,
            row.old,
            row.new,
            bool(row.while_away),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.uid,
            "at": iso(self.at),
            "kind": self.kind,
            "source": self.source,
            "container_id": self.container_id,
            "container_name": self.container_name,
            "workload": self.workload,
            "rule": self.rule,
            "severity": self.severity,
            "fingerprint": self.fingerprint,
            "old": self.old,
            "new": self.new,
            "while_away": self.while_away,
        }


T = Change.__table__
# Core columns in ChangeRecord's field order: no ORM objects on the hot read path.
COLUMNS = (T.c.id, T.c.uid, T.c.at, T.c.kind, T.c.source, T.c.container_id, T.c.container_name, T.c.workload,
           T.c.rule, T.c.severity, T.c.fingerprint, T.c.old, T.c.new, T.c.while_away)  # fmt: skip

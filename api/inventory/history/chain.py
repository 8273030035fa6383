"""The hash chain of the change table: each row carries the hash of the previous row and its own.

``link`` is the one definition of a row's hash: sha256 over the previous hash and the row's canonical content (its
id included, so a row moved to another position no longer matches). The recorder links every row it writes; the
chain's start after retention (``anchor``: the hash the oldest kept row points at) and its end (``head``: the last
row's id and hash) are kept in ``history_meta``, so purging old rows keeps the chain checkable and removing the
newest rows is detected too. ``verify`` walks rows in id order and names the first row that breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENESIS = "0" * 64
# The change columns a row's hash covers, in this order (history_change; id is covered separately).
CONTENT = (
    "uid",
    "at",
    "kind",
    "source",
    "container_id",
    "container_name",
    "workload",
    "rule",
    "severity",
    "fingerprint",
    "old",
    "new",
    "while_away",
)
# history_meta keys: the hash the oldest kept row points at (after retention), and the newest row "<id>:<hash>".
ANCHOR_KEY, HEAD_KEY = "chain_anchor", "chain_head"


def content_of(row: object) -> tuple[object, ...]:
    """The hashed content of a change row (ORM object or result row), times in ISO form, booleans as booleans."""
    values: list[object] = []
    for name in CONTENT:
        value = getattr(row, name)
        values.append(value.isoformat() if name == "at" else bool(value) if name == "while_away" else value)
    return tuple(values)


def link(prev_hash: str, row_id: int, content: Sequence[object]) -> str:
    """The hash of row ``row_id`` with ``content`` (the change's columns in a fixed order) after ``prev_hash``."""
    body = json.dumps([prev_hash, row_id, *content], separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    id: int
    content: tuple[object, ...]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Head:
    id: int
    hash: str

    def encode(self) -> str:
        return f"{self.id}:{self.hash}"

    @classmethod
    def decode(cls, value: str | None) -> Head | None:
        if not value:
            return None
        row_id, _, digest = value.partition(":")
        return cls(int(row_id), digest)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(rows: Iterable[ChainRow], anchor: str, head: Head | None, limit: int = 20) -> ChainReport:
    """Check ``rows`` (in id order) from ``anchor`` to ``head``; list up to ``limit`` problems, first one first."""
    problems: list[str] = []
    seen: dict[str, int | None] = {anchor: None}
    last_id: int | None = None
    expected = last_hash = anchor
    count = 0
    for row in rows:
        count += 1
        if row.hash != link(row.prev_hash, row.id, row.content):
            problems.append(f"row {row.id} does not match its hash: it was edited or moved from another position")
        elif row.prev_hash != expected:
            if row.prev_hash in seen:
                problems.append(
                    f"row {row.id} follows row {seen[row.prev_hash]}, not row {last_id}: rows were reordered"
                )
            else:
                after = f"after row {last_id}" if last_id is not None else "at the start of the chain"
                problems.append(f"row(s) removed before row {row.id} ({after})")
        seen[row.hash] = row.id
        expected, last_id, last_hash = row.hash, row.id, row.hash
        if len(problems) >= limit:
            break
    if len(problems) < limit and head is not None and (last_id, last_hash) != (head.id, head.hash):
        if head.hash in seen and head.id != last_id:
            problems.append(
                f"rows after row {head.id} were added outside the recorder (its recorded head is row {head.id})"
            )
        elif head.id > (last_id or 0):
            problems.append(f"the newest rows were removed: the chain ends at row {last_id}, its head is row {head.id}")
        else:
            problems.append(f"the last row {last_id} does not match the recorded head (row {head.id})")
    return ChainReport(count, tuple(problems))

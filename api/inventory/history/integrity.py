"""Check the change table's hash chain in a database (SQLite or PostgreSQL), streaming rows in id order."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .chain import ANCHOR_KEY, CONTENT, GENESIS, HEAD_KEY, ChainReport, ChainRow, Head, content_of, verify
from .models import Change, RecorderMeta

BATCH = 5000


def _rows(session: Session) -> Iterator[ChainRow]:
    columns = [Change.id, Change.prev_hash, Change.hash, *(getattr(Change, name) for name in CONTENT)]
    result = session.execute(select(*columns).order_by(Change.id).execution_options(yield_per=BATCH))
    for row in result:
        yield ChainRow(row.id, content_of(row), row.prev_hash, row.hash)


def verify_chain(engine: Engine, limit: int = 20) -> ChainReport:
    """Walk every change row from the recorded anchor to the recorded head; the problems name rows."""
    with Session(engine) as s:
        anchor = s.get(RecorderMeta, ANCHOR_KEY)
        head = s.get(RecorderMeta, HEAD_KEY)
        return verify(
            _rows(s), anchor.value if anchor else GENESIS, Head.decode(head.value if head else None), limit=limit
        )

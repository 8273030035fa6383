"""The webhook sink's durable queue: the change table itself, read past a cursor kept in the database.

Changes are stored before anything is sent, so the stored changes *are* the outbox: the sink reads them in id
order after ``webhook_cursor`` (a ``history_meta`` row) and moves the cursor past each change once it is
delivered, dropped or not wanted. A recorder that stops (or dies) resumes where the cursor stands; a change
delivered just before a crash, whose cursor move was lost, is sent again with the same ``Idempotency-Key``
(at-least-once). The first start of a sink sets the cursor to the newest change: enabling a webhook does not
replay the past.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from ..history.models import Change, RecorderMeta
from ..history.records import COLUMNS, ChangeRecord, T

CURSOR = "webhook_cursor"


class ChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def cursor(self) -> int:
        """The id of the last change the sink is done with; set to the newest change on first use."""
        with Session(self.engine) as s, s.begin():
            row = s.get(RecorderMeta, CURSOR)
            if row is not None:
                return int(row.value)
            newest = s.scalar(select(func.max(Change.id))) or 0
            s.add(RecorderMeta(key=CURSOR, value=str(newest)))
            return int(newest)

    def advance(self, change_id: int) -> None:
        with Session(self.engine) as s, s.begin():
            s.merge(RecorderMeta(key=CURSOR, value=str(change_id)))

    def after(self, change_id: int, limit: int) -> list[ChangeRecord]:
        """The next stored changes past ``change_id``, oldest first."""
        stmt: Select[*tuple[Any, ...]] = select(*COLUMNS).where(T.c.id > change_id).order_by(T.c.id.asc()).limit(limit)
        with self.engine.connect() as conn:
            return [ChangeRecord(*r) for r in conn.execute(stmt)]

    def pending(self, change_id: int) -> int:
        """How many stored changes lie past ``change_id`` (the sink's backlog, wanted or not)."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(T).where(T.c.id > change_id)) or 0)

"""History retention, exactly: what HistoryStore.purge deletes and what it keeps (make mutation: purge was in no
unit test; docs/MUTATION.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from inventory.history import db
from inventory.history.models import Change, PostureSample
from inventory.history.records import ChangeRecord
from inventory.recorder.store import HistoryStore
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

BEFORE = dt.datetime(2026, 11, 1, 12, 0, 0)


def change(n: int, at: dt.datetime) -> dict[str, object]:
    record = ChangeRecord(
        id=n, uid=f"{n:032x}", at=at, kind="finding_opened", source="local", container_id="c" * 64,
        container_name="web", workload="name:web", rule="run-as-root", severity="HIGH", fingerprint="f" * 32,
        old=None, new=None, while_away=False,
    )  # fmt: skip
    return {k: v for k, v in (record.to_dict() | {"uid": record.uid, "at": at}).items() if k != "id"}


def sample(at: dt.datetime, high: int) -> dict[str, object]:
    return {"at": at, "critical": 0, "high": high, "medium": 0, "low": 0, "waived": 0}


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    made = db.make_engine(f"sqlite:///{tmp_path}/history.db")
    db.upgrade(made)
    return made


def fill(engine: Engine, change_times: list[dt.datetime], sample_times: list[dt.datetime]) -> None:
    with engine.begin() as conn:
        if change_times:
            conn.execute(Change.__table__.insert(), [change(i, t) for i, t in enumerate(change_times, 1)])  # type: ignore[attr-defined]
        if sample_times:
            conn.execute(PostureSample.__table__.insert(), [sample(t, i) for i, t in enumerate(sample_times, 1)])  # type: ignore[attr-defined]


def left(engine: Engine) -> tuple[list[dt.datetime], list[int]]:
    with Session(engine) as s:
        changes = list(s.scalars(select(Change.at).order_by(Change.id)))
        samples = list(s.scalars(select(PostureSample.high).order_by(PostureSample.id)))
    return changes, samples


def ago(**kw: float) -> dt.datetime:
    return BEFORE - dt.timedelta(**kw)


def later(**kw: float) -> dt.datetime:
    return BEFORE + dt.timedelta(**kw)


def test_purge_deletes_the_older_changes_only_and_counts_them(engine: Engine) -> None:
    fill(engine, [ago(days=40), ago(seconds=1), BEFORE, later(seconds=1), later(days=2)], [])
    assert HistoryStore(engine).purge(BEFORE) == 2
    assert left(engine)[0] == [BEFORE, later(seconds=1), later(days=2)]


def test_purge_with_nothing_old_deletes_nothing(engine: Engine) -> None:
    fill(engine, [BEFORE, later(days=1)], [BEFORE, later(days=1)])
    assert HistoryStore(engine).purge(BEFORE) == 0
    assert left(engine) == ([BEFORE, later(days=1)], [1, 2])


def test_purge_keeps_the_newest_old_sample_as_the_trend_baseline(engine: Engine) -> None:
    fill(engine, [], [ago(days=40), ago(days=20), ago(seconds=1), BEFORE, later(days=1)])
    assert HistoryStore(engine).purge(BEFORE) == 0  # counts changes, not samples
    assert left(engine)[1] == [3, 4, 5]


def test_a_single_old_sample_stays(engine: Engine) -> None:
    fill(engine, [ago(days=3)], [ago(days=3)])
    assert HistoryStore(engine).purge(BEFORE) == 1
    assert left(engine) == ([], [1])


def test_purge_of_an_empty_history(engine: Engine) -> None:
    assert HistoryStore(engine).purge(BEFORE) == 0
    assert left(engine) == ([], [])

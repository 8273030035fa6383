"""The change table's hash chain on real SQLite and PostgreSQL: the recorder's store links every row; edits,
deletions, reordering, truncation and rows written behind the recorder's back, made directly in the database with
SQL, are each detected and named by row; retention keeps the rest verifiable; the migration links existing rows."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from inventory.history import db
from inventory.history.integrity import verify_chain
from inventory.recorder.diff import diff
from inventory.recorder.observe import ContainerObs, Observation
from inventory.recorder.store import HistoryStore
from sqlalchemy import Engine, text

T0 = dt.datetime(2026, 11, 1, 12, 0, 0, 123456)


def _obs(i: int) -> Observation:
    o = Observation()
    c = ContainerObs(
        source="local", id=f"{i:064x}", name=f"c{i}", workload=f"name:c{i}", image="web:1", image_id="sha256:1",
        state="running", health="none", started_at=None, restart_count=0,
    )  # fmt: skip
    o.containers[(c.source, c.id)] = c
    o.evaluated.add((c.source, c.id))
    return o


def record(engine: Engine, cycles: int, start: int = 0) -> HistoryStore:
    """Each cycle replaces container c{i-1} by c{i}: two changes (appeared, disappeared) per cycle after the first."""
    store = HistoryStore(engine)
    prev = _obs(start - 1) if start else Observation()
    for i in range(start, start + cycles):
        cur = _obs(i)
        at = T0 + dt.timedelta(days=i)
        store.commit(prev, cur, diff(prev, cur, at), at, False)
        prev = cur
    return store


@pytest.fixture()
def engine(migrated_url: str) -> Engine:
    e = db.make_engine(migrated_url)
    record(e, 6)
    assert verify_chain(e).ok
    return e


def ids(engine: Engine) -> list[int]:
    with engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT id FROM history_change ORDER BY id"))]


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as c:
        c.execute(text(statement), params)


def test_intact_chain_grows_across_stores(engine: Engine) -> None:
    record(engine, 3, start=6)  # a new store (a restarted recorder) continues the chain from the recorded head
    report = verify_chain(engine)
    assert report.ok and report.rows == len(ids(engine)) == 1 + 2 * 8


def test_edited_row(engine: Engine) -> None:
    victim = ids(engine)[4]
    sql(engine, "UPDATE history_change SET container_name = 'innocent' WHERE id = :i", i=victim)
    assert (
        verify_chain(engine).problems[0]
        == f"row {victim} does not match its hash: it was edited or moved from another position"
    )


def test_deleted_row(engine: Engine) -> None:
    rows = ids(engine)
    sql(engine, "DELETE FROM history_change WHERE id = :i", i=rows[3])
    assert verify_chain(engine).problems == (f"row(s) removed before row {rows[4]} (after row {rows[2]})",)


def test_reordered_rows(engine: Engine) -> None:
    rows = ids(engine)
    a, b = rows[2], rows[3]
    # swap the two rows' positions (ids), hashes and all
    sql(engine, "UPDATE history_change SET id = :t WHERE id = :a", t=10_000, a=a)
    sql(engine, "UPDATE history_change SET id = :a WHERE id = :b", a=a, b=b)
    sql(engine, "UPDATE history_change SET id = :b WHERE id = :t", b=b, t=10_000)
    problems = verify_chain(engine).problems
    assert problems[0] == f"row {a} does not match its hash: it was edited or moved from another position"
    assert problems[1] == f"row {b} does not match its hash: it was edited or moved from another position"


def test_newest_rows_removed(engine: Engine) -> None:
    rows = ids(engine)
    sql(engine, "DELETE FROM history_change WHERE id >= :i", i=rows[-2])
    assert verify_chain(engine).problems == (
        f"the newest rows were removed: the chain ends at row {rows[-3]}, its head is row {rows[-1]}",
    )


def test_row_added_behind_the_recorders_back(engine: Engine) -> None:
    last = ids(engine)[-1]
    with engine.begin() as c:
        (digest,) = c.execute(text("SELECT hash FROM history_change WHERE id = :i"), {"i": last}).one()
        c.execute(
            text(
                "INSERT INTO history_change (uid, at, kind, source, container_id, container_name, workload, "
                "while_away, prev_hash, hash) VALUES (:u, :at, 'appeared', 'local', 'x', 'x', 'name:x', false, :p, :h)"
            ),
            {"u": uuid.uuid4().hex, "at": T0, "p": digest, "h": "f" * 64},
        )
    problems = verify_chain(engine).problems
    assert problems[0] == f"row {last + 1} does not match its hash: it was edited or moved from another position"
    assert problems[1] == f"rows after row {last} were added outside the recorder (its recorded head is row {last})"


def test_retention_keeps_the_chain_verifiable(engine: Engine) -> None:
    store = HistoryStore(engine)
    removed = store.purge(T0 + dt.timedelta(days=3))
    assert removed > 0
    report = verify_chain(engine)
    assert report.ok, report.problems
    assert report.rows == len(ids(engine))
    record(engine, 2, start=6)
    assert verify_chain(engine).ok
    sql(engine, "DELETE FROM history_change WHERE id = :i", i=ids(engine)[0])
    assert verify_chain(engine).problems[0].endswith("(at the start of the chain)")


def test_migration_links_existing_rows(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.upgrade(engine, "0001")
    for i in range(5):
        sql(
            engine,
            "INSERT INTO history_change (uid, at, kind, source, container_id, container_name, workload, while_away) "
            "VALUES (:u, :at, 'appeared', 'local', :c, :c, :w, false)",
            u=uuid.uuid4().hex, at=T0 + dt.timedelta(minutes=i), c=f"c{i}", w=f"name:c{i}",
        )  # fmt: skip
    db.upgrade(engine)
    assert verify_chain(engine).rows == 5 and verify_chain(engine).ok
    record(engine, 2, start=10)
    assert verify_chain(engine).ok, "the recorder continues the migrated chain"
    db.downgrade(engine, "0001")
    with engine.connect() as c:
        assert "hash" not in {col for col in c.execute(text("SELECT * FROM history_change")).keys()}

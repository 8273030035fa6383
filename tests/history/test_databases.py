"""Migrations up and down, and the recorder -> query round trip, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
import uuid

import docker
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from inventory.history import db
from inventory.history.models import TABLES, Base
from inventory.history.query import ChangeFilter, HistoryQueries
from inventory.history.store import ChangeRecord, HistoryStore
from inventory.recorder.loop import Recorder
from inventory.service import InventoryService
from sqlalchemy import inspect

from tests.history.conftest import run_container


def cycle_until(recorder: Recorder, service: InventoryService, name: str, want: str) -> list[ChangeRecord]:
    """Recorder cycles, each after the live state moved, until one records `want` about `name` (all rows)."""
    deadline = time.monotonic() + 30
    rows: list[ChangeRecord] = []
    while time.monotonic() < deadline:
        service.live.wait_for_change(recorder.version, 1.0)
        rows += [x for x in recorder.cycle() if x.container_name == name]
        if want in {x.kind for x in rows}:
            return rows
    raise AssertionError(f"no {want} recorded for {name}: {[x.kind for x in rows]}")


def test_migrations_up_and_down(database_url: str) -> None:
    engine = db.make_engine(database_url)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.downgrade(engine)
    assert db.current_revision(engine) is None
    assert not set(TABLES) & set(inspect(engine).get_table_names())
    db.upgrade(engine)  # and up again from base
    assert db.current_revision(engine) == db.head_revision()


def test_recorder_round_trip(
    migrated_url: str, service: InventoryService, engine_client: docker.DockerClient, scratch: list[object]
) -> None:
    name = f"invtest-hist-{uuid.uuid4().hex[:8]}"
    recorder = Recorder(service, HistoryStore(db.make_engine(migrated_url)), retention_days=7)
    recorder.cycle()
    c = run_container(engine_client, scratch, name, user="0")
    appeared = cycle_until(recorder, service, name, "finding_opened")
    assert {x.kind for x in appeared} >= {"appeared", "finding_opened"}
    c.kill()  # type: ignore[attr-defined]
    assert "stopped" in [x.kind for x in cycle_until(recorder, service, name, "stopped")]
    queries = HistoryQueries(migrated_url)
    page = queries.changes(ChangeFilter(container=name, limit=100))
    assert page.items[0].kind == "stopped"
    assert {x.rule for x in page.items if x.kind == "finding_opened"} >= {"run-as-root", "no-memory-limit"}
    assert page.items == queries.changes(ChangeFilter(container=c.id[:12], limit=100)).items  # type: ignore[attr-defined]

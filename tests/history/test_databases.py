"""Migrations up and down, the recorder -> query round trip and the recorder -> webhook path, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import docker
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from inventory.config import RecorderSettings
from inventory.history import db
from inventory.history.models import TABLES, Base
from inventory.history.query import ChangeFilter, HistoryQueries
from inventory.history.records import ChangeRecord
from inventory.recorder.feed import ChangeFeed
from inventory.recorder.loop import Recorder
from inventory.recorder.store import HistoryStore
from inventory.recorder.webhook import WebhookSink
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


def _receiver_module() -> Any:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver", example)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recorded_changes_reach_the_webhook(
    migrated_url: str,
    service: InventoryService,
    engine_client: docker.DockerClient,
    scratch: list[object],
    tmp_path: Path,
) -> None:
    """The recorder stores a real container's findings; the sink reads them back from this database and the
    docs' receiver verifies each signature (after two 500s)."""
    receiver = _receiver_module().Receiver(0, b"s3cret-for-history-tests", fail_first=2)  # pragma: allowlist secret
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    secret = tmp_path / "secret"
    secret.write_text("s3cret-for-history-tests\n")  # pragma: allowlist secret
    settings = RecorderSettings(
        webhook_url=f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        webhook_secret_file=str(secret),
        webhook_min_severity="HIGH",
        webhook_backoff=0.05,
    )
    engine = db.make_engine(migrated_url)
    sink = WebhookSink(settings, ChangeFeed(engine))
    recorder = Recorder(service, HistoryStore(engine), retention_days=7, notify=sink.offer)
    sink.start()
    try:
        recorder.cycle()
        name = f"invtest-hook-{uuid.uuid4().hex[:8]}"
        run_container(engine_client, scratch, name, user="0")
        opened = [x for x in cycle_until(recorder, service, name, "finding_opened") if x.kind == "finding_opened"]
        wanted = {x.uid for x in opened if x.severity in ("CRITICAL", "HIGH")}
        assert wanted, opened  # running as root is HIGH
        deadline = time.monotonic() + 30
        while not wanted <= set(receiver.seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wanted <= set(receiver.seen), (wanted, list(receiver.seen))
        assert all(receiver.seen[uid]["container_name"] == name for uid in wanted)
    finally:
        sink.stop(drain=1.0)
        receiver.shutdown()
        receiver.server_close()

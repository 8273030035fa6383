"""invops history backup/verify/restore on real SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from inventory.history import db
from inventory.history.query import ChangeFilter, HistoryQueries
from inventory.recorder.diff import ChangeEvent
from inventory.recorder.observe import Observation
from inventory.recorder.store import HistoryStore

ROOT = Path(__file__).resolve().parents[2]


def invops(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "ops")}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "invops", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def fill(url: str, rows: int) -> None:
    """Recorded changes (the store's own write path), spread over two days."""
    store = HistoryStore(db.make_engine(url))
    start = dt.datetime(2026, 11, 24)
    for batch in range(rows // 50):
        events = [
            ChangeEvent("appeared" if i % 2 else "finding_opened", "local", f"{batch:04d}{i:060d}", f"c{batch}-{i}",
                        f"name:c{batch}-{i}", None if i % 2 else "run-as-root", None if i % 2 else "HIGH")
            for i in range(50)
        ]  # fmt: skip
        store.commit(Observation(), Observation(), events, start + dt.timedelta(minutes=batch), while_away=False)


def all_changes(url: str) -> list[object]:
    return HistoryQueries(url).changes(ChangeFilter(limit=1000, newest_first=False)).items


def empty_target(kind_url: str, pg: object | None, tmp_path: Path) -> str:
    if kind_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/restored/history.db"
    return pg.create_database(f"r{uuid.uuid4().hex[:10]}")  # type: ignore[attr-defined]


def test_backup_restore_round_trip(migrated_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fill(migrated_url, 300)
    out = tmp_path / "backups"
    made = invops("history", "backup", "--database-url", migrated_url, "--out", str(out))
    assert made.returncode == 0, made.stderr
    backup = next(out.glob("history-*"))
    doc = json.loads((backup / "manifest.json").read_text())
    assert doc["tables"]["history_change"] == 300 and doc["tables"]["alembic_version"] == 1
    assert doc["revision"] == db.head_revision()
    assert "@" not in doc["source"]["database"] or "postgres@" in doc["source"]["database"]
    assert invops("history", "verify", str(backup)).returncode == 0

    pg = request.getfixturevalue("pg") if migrated_url.startswith("postgresql") else None
    target = empty_target(migrated_url, pg, tmp_path)
    restored = invops("history", "restore", str(backup), "--database-url", target)
    assert restored.returncode == 0, restored.stderr
    assert all_changes(target) == all_changes(migrated_url)
    assert len(all_changes(target)) == 300
    if target.startswith("postgresql"):  # pg_restore brings no planner statistics; the restore makes them
        with db.make_engine(target).connect() as conn:
            stats = conn.exec_driver_sql("SELECT count(*) FROM pg_stats WHERE tablename = 'history_change'").scalar()
        assert stats, "restored history_change has no planner statistics (no ANALYZE after pg_restore)"
    # a second restore into the now non-empty database is refused unless --replace
    again = invops("history", "restore", str(backup), "--database-url", target)
    assert again.returncode == 1 and "--replace" in again.stderr
    assert invops("history", "restore", str(backup), "--database-url", target, "--replace").returncode == 0
    assert all_changes(target) == all_changes(migrated_url)


def test_corrupt_backup_is_refused(migrated_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fill(migrated_url, 50)
    out = tmp_path / "backups"
    assert invops("history", "backup", "--database-url", migrated_url, "--out", str(out)).returncode == 0
    backup = next(out.glob("history-*"))
    artifact = next(p for p in backup.iterdir() if p.name != "manifest.json")
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    pg = request.getfixturevalue("pg") if migrated_url.startswith("postgresql") else None
    target = empty_target(migrated_url, pg, tmp_path)
    result = invops("history", "restore", str(backup), "--database-url", target)
    assert result.returncode == 3, result.stderr
    assert "SHA-256" in result.stderr
    if target.startswith("sqlite"):
        assert not Path(target.removeprefix("sqlite:///")).exists()


def test_bad_input_is_one_line() -> None:
    result = invops("history", "backup", "--database-url", "mysql://x/y", "--out", "/tmp/x")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    missing = invops("history", "backup", "--out", "/tmp/x")
    assert missing.returncode == 2 and "DATABASE_URL" in missing.stderr

"""The runbook's `invops history` commands (docs/RUNBOOKS.md, History database backup and restore), run as
people run them: a new process per command, a real SQLite database migrated by the recorder's own migrations.
Backup/restore behaviour in depth (PostgreSQL, corruption, same rows afterwards) is tests/history/test_backup.py."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from inventory.history import db

from tests.ops.conftest import invops


def test_history_runbook_commands_on_sqlite(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'history.db'}"
    db.upgrade(db.make_engine(source))
    out = tmp_path / "backups"

    backup = invops("history", "backup", "--database-url", source, "--out", str(out))
    assert backup.returncode == 0, backup.stderr
    (made,) = list(out.iterdir())
    manifest = json.loads((made / "manifest.json").read_text())
    assert manifest["revision"] == db.head_revision() and manifest["tables"]["alembic_version"] == 1

    verify = invops("history", "verify", str(made))
    assert verify.returncode == 0, verify.stderr

    target = tmp_path / "restored.db"
    dry = invops("history", "restore", str(made), "--database-url", f"sqlite:///{target}", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not target.exists(), "--dry-run must not write the target database"

    pg_dry = "postgresql://inventory@db.internal:5432/inventory_history"  # never contacted: --dry-run
    planned = invops("history", "backup", "--database-url", pg_dry, "--out", str(out), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert len(list(out.iterdir())) == 1, "--dry-run must not write a backup"


def test_history_verify_refuses_a_tampered_backup(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'history.db'}"
    db.upgrade(db.make_engine(source))
    assert invops("history", "backup", "--database-url", source, "--out", str(tmp_path / "b")).returncode == 0
    (made,) = list((tmp_path / "b").iterdir())
    with (made / "history.db").open("ab") as f:
        f.write(b"tampered")
    assert invops("history", "verify", str(made)).returncode != 0


def _chained(url: str) -> None:
    """A migrated database with changes the recorder's store linked into its hash chain."""
    from tests.history.test_chain_db import record

    engine = db.make_engine(url)
    db.upgrade(engine)
    record(engine, 4)
    engine.dispose()


def _tamper(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE history_change SET kind = 'started' WHERE id = 3")


def test_history_verify_checks_the_chain_of_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    _chained(url)
    ok = invops("history", "verify", "--database-url", url)
    assert ok.returncode == 0 and "hash chain verified: 7 change rows" in ok.stderr + ok.stdout, ok.stderr
    _tamper(tmp_path / "history.db")
    bad = invops("history", "verify", "--database-url", url)
    assert bad.returncode == 3, bad.stderr
    assert "history chain broken" in bad.stderr and "row 3 does not match its hash" in bad.stderr


def test_a_backup_edited_with_a_fresh_manifest_is_refused_by_its_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    _chained(url)
    assert invops("history", "backup", "--database-url", url, "--out", str(tmp_path / "b")).returncode == 0
    (made,) = list((tmp_path / "b").iterdir())
    assert invops("history", "verify", str(made)).returncode == 0
    _tamper(made / "history.db")
    # the forger also rewrites the manifest's size and checksum: only the chain can tell
    doc = json.loads((made / "manifest.json").read_text())
    for entry in doc["artifacts"]:
        entry["size"] = (made / entry["path"]).stat().st_size
        entry["sha256"] = hashlib.sha256((made / entry["path"]).read_bytes()).hexdigest()
    (made / "manifest.json").write_text(json.dumps(doc))
    refused = invops("history", "verify", str(made))
    assert refused.returncode == 3 and "row 3 does not match its hash" in refused.stderr, refused.stderr
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    assert invops("history", "restore", str(made), "--database-url", target).returncode == 3

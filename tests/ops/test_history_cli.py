"""The runbook's `invops history` commands (docs/RUNBOOKS.md, History database backup and restore), run as
people run them: a new process per command, a real SQLite database migrated by the recorder's own migrations.
Backup/restore behaviour in depth (PostgreSQL, corruption, same rows afterwards) is tests/history/test_backup.py."""

from __future__ import annotations

import json
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

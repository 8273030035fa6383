"""History database backup/restore: SQLite through its online backup API, PostgreSQL with pg_dump/pg_restore.

Each backup directory holds the database copy and a manifest (SHA-256, size, per-table row counts, Alembic
revision). `verify` checks all of it; `restore` verifies first, refuses a non-empty target unless told to
replace it, and compares the restored row counts with the manifest afterwards. Passwords never appear on a
command line, in the manifest or in messages (libpq gets them through PGPASSWORD).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from invops import manifest
from invops.errors import OpsError, UsageError, VerifyError
from invops.runner import Runner, progress, require

SQLITE, POSTGRES = "history-sqlite", "history-postgresql"
SQLITE_FILE, PG_FILE = "history.db", "history.dump"


class Database:
    """A parsed DATABASE_URL: sqlite:///path or postgresql://USER@HOST:PORT/DB (password optional)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.split("+", 1)[0]
        if scheme == "sqlite":
            # sqlite:///relative.db or sqlite:////absolute/path.db (SQLAlchemy's form)
            path = unquote(url.strip().split(":///", 1)[1].split("?", 1)[0]) if ":///" in url else ""
            if not path or path == ":memory:":
                raise UsageError("sqlite URL needs a file path: sqlite:////var/lib/inventory/history.db")
            self.kind, self.path = "sqlite", Path(path)
        elif scheme in ("postgresql", "postgres"):
            if not parts.hostname or not parts.path.strip("/"):
                raise UsageError("postgresql URL needs a host and a database name")
            self.kind, self.path = "postgresql", Path()
            self.host, self.port = parts.hostname, parts.port or 5432
            self.user = unquote(parts.username or "")
            self.password = unquote(parts.password or "")
            self.dbname = unquote(parts.path.strip("/"))
        else:
            raise UsageError(f"unsupported database URL scheme {parts.scheme!r} (sqlite or postgresql)")

    def redacted(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return f"postgresql://{self.user + '@' if self.user else ''}{self.host}:{self.port}/{self.dbname}"

    def conninfo(self) -> str:
        """libpq keyword/value string without the password (that goes through PGPASSWORD)."""
        return f"host={self.host} port={self.port} dbname={self.dbname}" + (f" user={self.user}" if self.user else "")

    def env(self) -> dict[str, str]:
        return {**os.environ, **({"PGPASSWORD": self.password} if self.password else {})}


# -- SQLite -----------------------------------------------------------------------------------------------


def _sqlite_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}  # noqa: S608  # nosec B608


def _sqlite_revision(path: Path) -> str | None:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
    return row[0] if row else None


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite's online backup API: a consistent copy while the recorder keeps writing."""
    with closing(sqlite3.connect(f"file:{src}?mode=ro", uri=True)) as s, closing(sqlite3.connect(dst)) as d:
        s.backup(d)
        d.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (no -wal/-shm next to it)


# -- PostgreSQL -------------------------------------------------------------------------------------------


def _pg_connect(db: Database) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the tool venv has it
        raise OpsError("psycopg is not installed (tools/requirements-dev.txt)", code=4) from exc
    try:
        return psycopg.connect(db.conninfo(), password=db.password or None, connect_timeout=5, autocommit=False)
    except psycopg.OperationalError as exc:
        raise OpsError(f"cannot connect to {db.redacted()}: {str(exc).strip().splitlines()[0]}", code=4) from exc


def _pg_counts(cur: Any) -> dict[str, int]:
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema='public' AND table_type='BASE TABLE'"
    )
    tables = sorted(r[0] for r in cur.fetchall())
    counts = {}
    for t in tables:
        cur.execute(f'SELECT count(*) FROM public."{t}"')  # noqa: S608  # nosec B608 (names from the catalog)
        counts[t] = cur.fetchone()[0]
    return counts


def _pg_revision(cur: Any, counts: dict[str, int]) -> str | None:
    if "alembic_version" not in counts:
        return None
    cur.execute("SELECT version_num FROM alembic_version")
    row = cur.fetchone()
    return row[0] if row else None


def _run(cmd: list[str], db: Database) -> None:
    require(cmd[0])
    proc = subprocess.run(cmd, env=db.env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise OpsError(f"{cmd[0]} failed (exit {proc.returncode}){': ' + lines[-1] if lines else ''}")


# -- commands ---------------------------------------------------------------------------------------------


def backup(url: str, out: Path, runner: Runner) -> Path:
    db = Database(url)
    target = out / f"history-{manifest.utc_stamp()}"
    if runner.dry_run:
        print(f"back up {db.redacted()} -> {target}")
        return target
    target.mkdir(parents=True, exist_ok=False)
    if db.kind == "sqlite":
        if not db.path.is_file():
            raise OpsError(f"no SQLite database at {db.path}")
        progress(f"SQLite online backup {db.path} -> {target / SQLITE_FILE}")
        _sqlite_copy(db.path, target / SQLITE_FILE)
        counts, revision = _sqlite_counts(target / SQLITE_FILE), _sqlite_revision(target / SQLITE_FILE)
        kind, artifact = SQLITE, SQLITE_FILE
    else:
        progress(f"pg_dump {db.redacted()} (one snapshot for the row counts and the dump)")
        with closing(_pg_connect(db)) as conn, conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            counts = _pg_counts(cur)
            revision = _pg_revision(cur, counts)
            dump = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
            _run([*dump, f"--file={target / PG_FILE}", f"--dbname={db.conninfo()}"], db)
            conn.rollback()
        kind, artifact = POSTGRES, PG_FILE
    manifest.write(
        target, kind, [artifact], {"database": db.redacted(), "engine": db.kind}, tables=counts, revision=revision
    )
    progress(f"backup complete: {target} ({sum(counts.values())} rows in {len(counts)} tables)")
    return target


def chain(url: str) -> int:
    """Verify the change table's hash chain (inventory.history.chain) in the database at ``url``: the number of
    rows checked; VerifyError naming the first broken rows. A database from before the chain (revision < 0003)
    has none to check: said, not failed."""
    from inventory.history import db as history_db
    from inventory.history.integrity import verify_chain
    from sqlalchemy import inspect

    engine = history_db.make_engine(url, writer=False)
    try:
        if "hash" not in {c["name"] for c in inspect(engine).get_columns("history_change")}:
            progress(f"{Database(url).redacted()}: no hash chain yet (revision {history_db.current_revision(engine)})")
            return 0
        report = verify_chain(engine)
    finally:
        engine.dispose()
    if not report.ok:
        more = f" (+{len(report.problems) - 3} more)" if len(report.problems) > 3 else ""
        raise VerifyError(f"history chain broken in {Database(url).redacted()}: {'; '.join(report.problems[:3])}{more}")
    progress(f"hash chain verified: {report.rows} change rows in {Database(url).redacted()}")
    return report.rows


def verify(backup_dir: Path) -> dict[str, Any]:
    doc = manifest.verify(backup_dir)
    if doc.get("kind") not in (SQLITE, POSTGRES) or not isinstance(doc.get("tables"), dict):
        raise VerifyError(f"{backup_dir} is not a history database backup")
    if doc["kind"] == SQLITE:
        path = backup_dir / SQLITE_FILE
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise VerifyError(f"{path} fails SQLite's integrity check")
        if _sqlite_counts(path) != doc["tables"]:
            raise VerifyError(f"{path}: row counts differ from the manifest")
        chain(f"sqlite:///{path}")
    else:
        require("pg_restore")
        proc = subprocess.run(["pg_restore", "--list", str(backup_dir / PG_FILE)], capture_output=True, check=False)
        if proc.returncode != 0:
            raise VerifyError(f"{backup_dir / PG_FILE} is not a readable pg_dump archive")
    progress(f"verified {backup_dir} ({doc['kind']}, {sum(doc['tables'].values())} rows)")
    return doc


def restore(backup_dir: Path, url: str, replace: bool, runner: Runner) -> None:
    doc = verify(backup_dir)
    db = Database(url)
    if (doc["kind"] == SQLITE) != (db.kind == "sqlite"):
        raise UsageError(f"a {doc['kind']} backup cannot be restored into {db.redacted()}")
    if runner.dry_run:
        print(f"restore {backup_dir} -> {db.redacted()}{' (replacing its contents)' if replace else ''}")
        return
    if db.kind == "sqlite":
        if db.path.exists() and any(_sqlite_counts(db.path).values()) and not replace:
            raise OpsError(f"{db.path} already holds data; use --replace to overwrite it (stop the recorder first)")
        db.path.parent.mkdir(parents=True, exist_ok=True)
        progress(f"SQLite restore {backup_dir / SQLITE_FILE} -> {db.path}")
        _sqlite_copy(backup_dir / SQLITE_FILE, db.path)
        restored = _sqlite_counts(db.path)
    else:
        with closing(_pg_connect(db)) as conn, conn.cursor() as cur:
            existing = _pg_counts(cur)
        if existing and not replace:
            raise OpsError(f"{db.redacted()} already has tables; use --replace (drops and re-creates them)")
        progress(f"pg_restore {backup_dir / PG_FILE} -> {db.redacted()}")
        cmd = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        cmd += ["--clean", "--if-exists"] if replace else []
        _run([*cmd, f"--dbname={db.conninfo()}", str(backup_dir / PG_FILE)], db)
        with closing(_pg_connect(db)) as conn, conn.cursor() as cur:
            restored = _pg_counts(cur)
            # pg_restore brings no planner statistics: without them the history queries scan whole tables until
            # autovacuum gets round to it (ANALYZE is transactional: it counts once committed).
            progress("ANALYZE (planner statistics for the restored tables)")
            cur.execute("ANALYZE")
            conn.commit()
    if restored != doc["tables"]:
        raise VerifyError(f"restored row counts {restored} differ from the manifest {doc['tables']}")
    chain(url)
    progress(f"restored {sum(restored.values())} rows in {len(restored)} tables into {db.redacted()}")

"""History database CLI (DATABASE_URL): python -m inventory.history {upgrade,downgrade,current} [revision]
and `snapshot PATH`: a consistent copy of a SQLite history database (SQLite's online backup API) for
file-level backups such as Velero's pre-backup hook. Full backups with manifests: `invops history backup`."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from contextlib import closing

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..config import ConfigError, Settings, read
from . import db


def _snapshot(url: str, target: str | None) -> int:
    if not url.startswith("sqlite") or not target:
        print("inventory.history: snapshot needs a sqlite DATABASE_URL and a target file", file=sys.stderr)
        return 2
    source = make_url(url).database or ""
    tmp = f"{target}.tmp"
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, closing(sqlite3.connect(tmp)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    os.replace(tmp, target)
    print(f"snapshot of {source} written to {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inventory.history", description=__doc__)
    parser.add_argument("action", choices=["upgrade", "downgrade", "current", "snapshot"])
    parser.add_argument("target", nargs="?", help="revision (upgrade: head, downgrade: base); snapshot: file path")
    args = parser.parse_args(argv)
    try:
        url = read(Settings, "database_url", os.environ)
        if args.action == "snapshot":
            return _snapshot(url, args.target)
        engine = db.make_engine(url)
        if args.action == "upgrade":
            db.upgrade(engine, args.target or "head")
        elif args.action == "downgrade":
            db.downgrade(engine, args.target or "base")
        print(f"{db.redacted(url)}: revision {db.current_revision(engine) or 'base'} (head {db.head_revision()})")
    except ConfigError as exc:
        print(f"inventory.history: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, sqlite3.Error) as exc:
        print(f"inventory.history: database error: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

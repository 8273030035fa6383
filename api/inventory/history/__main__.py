"""Migrations CLI: python -m inventory.history {upgrade,downgrade,current} [revision] (DATABASE_URL)."""

from __future__ import annotations

import argparse
import os
import sys

from sqlalchemy.exc import SQLAlchemyError

from ..config import ConfigError
from . import db
from .settings import database_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inventory.history", description=__doc__)
    parser.add_argument("action", choices=["upgrade", "downgrade", "current"])
    parser.add_argument("revision", nargs="?", help="target revision (upgrade: head, downgrade: base)")
    args = parser.parse_args(argv)
    try:
        url = database_url(os.environ)
        engine = db.make_engine(url)
        if args.action == "upgrade":
            db.upgrade(engine, args.revision or "head")
        elif args.action == "downgrade":
            db.downgrade(engine, args.revision or "base")
        print(f"{db.redacted(url)}: revision {db.current_revision(engine) or 'base'} (head {db.head_revision()})")
    except ConfigError as exc:
        print(f"inventory.history: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"inventory.history: database error: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

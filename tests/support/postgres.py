"""A throwaway PostgreSQL cluster (Debian's postgresql package) on 127.0.0.1 and a free port.

    with PostgresCluster() as pg:
        url = pg.create_database("history")   # postgresql://postgres@127.0.0.1:<port>/history

initdb and the server run as the `postgres` system user (runuser; the suites run as root in CI), with
trust authentication on 127.0.0.1 only, fsync off, and the data directory removed afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.support.stack import free_port


def pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise FileNotFoundError(f"{tool}: install the Debian `postgresql` package (tools/apt-packages.txt)")
    return found[-1]


def available() -> str | None:
    """None when a cluster can be started here, else the reason."""
    if os.geteuid() != 0:
        return "needs root to run initdb as the postgres user"
    try:
        pg_bin("initdb")
    except FileNotFoundError as exc:
        return str(exc)
    if shutil.which("runuser") is None:
        return "runuser is missing"
    return None


class PostgresCluster:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="invtest-pg-"))
        self.data = self.dir / "data"

    def _as_postgres(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, check=True)

    def start(self) -> PostgresCluster:
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._as_postgres(
            pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, sql: str, db: str = "postgres") -> str:
        cmd = [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-tAc", sql]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

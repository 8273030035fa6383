"""`/api/changes` with 100k history rows, on SQLite and on PostgreSQL (part of `make bench`; runnable alone).

Fills a fresh database of each kind with 100,000 change rows (2,000 containers, 90 days, the recorder's mix of
kinds), starts the real API under gunicorn (2 workers, as in the image) on 127.0.0.1 against it and measures
client-side latency of a query mix: newest page, page 2 by cursor, kind, rule, container and time filters.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import requests
from sqlalchemy import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "api")]
from inventory.history import db  # noqa: E402
from inventory.history.models import Change  # noqa: E402
from inventory.history.records import KINDS  # noqa: E402

from tests.support import postgres  # noqa: E402
from tests.support.stack import free_port  # noqa: E402

CHANGES = cast(Table, Change.__table__)  # a mapped class's table (typed as the broader FromClause)

ROWS = int(os.environ.get("BENCH_HISTORY_ROWS", "100000"))
REQUESTS = int(os.environ.get("BENCH_HISTORY_REQUESTS", "600"))
# Latency of one request at a time (no queueing behind other requests); raise it to see throughput effects.
CONCURRENCY = int(os.environ.get("BENCH_HISTORY_CONCURRENCY", "1"))
RULES = ("run-as-root", "no-memory-limit", "writable-rootfs", "privileged", "mutable-image-tag")
SEVERITY = {"run-as-root": "HIGH", "no-memory-limit": "MEDIUM", "writable-rootfs": "MEDIUM", "privileged": "CRITICAL"}


def fill(url: str, rows: int) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    rnd = random.Random(11)
    end = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start = end - dt.timedelta(days=90)
    step = (end - start) / rows
    batch = []
    with engine.begin() as conn:
        for i in range(rows):
            n = rnd.randrange(2000)
            kind = rnd.choice(KINDS)
            rule = rnd.choice(RULES) if kind.startswith("finding") else None
            batch.append(
                {
                    "uid": uuid.UUID(int=rnd.getrandbits(128)).hex,
                    "at": start + step * i,
                    "kind": kind,
                    "source": "local",
                    "container_id": f"{n:012x}" + "0" * 52,
                    "container_name": f"app-{n}",
                    "workload": f"compose:bench/app-{n}/1",
                    "rule": rule,
                    "severity": SEVERITY.get(rule or "", "LOW") if rule else None,
                    "fingerprint": None,
                    "old": None,
                    "new": None,
                    "while_away": False,
                }
            )
            if len(batch) == 5000:
                conn.execute(CHANGES.insert(), batch)
                batch = []
        if batch:
            conn.execute(CHANGES.insert(), batch)
    # Planner statistics, as autovacuum (PostgreSQL) would have them for a database this size. Committed: an
    # ANALYZE inside a transaction that is rolled back leaves no statistics behind.
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def queries(base: str) -> list[str]:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = requests.get(f"{base}/api/changes", timeout=10).json()
    return [
        "/api/changes",
        f"/api/changes?cursor={first['next_cursor']}",
        "/api/changes?kind=finding_opened",
        "/api/changes?rule=run-as-root&order=asc",
        "/api/changes?container=app-42",
        f"/api/changes?container={42:012x}",
        f"/api/changes?since={since}",
        "/api/changes?kind=restarted&since=2000-01-01T00:00:00Z&limit=1000",
    ]


def measure(url: str) -> dict[str, float]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        "PYTHONPATH": str(ROOT / "api"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--graceful-timeout", "5"]
    log = open(Path(tempfile.gettempdir()) / "bench-history-gunicorn.log", "ab")
    server = subprocess.Popen(
        [*cmd, "-b", f"127.0.0.1:{port}", "inventory.wsgi:app"],
        cwd=ROOT / "api",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/api/changes?limit=1", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /api/changes")
            time.sleep(0.2)
        paths = queries(base)
        for p in paths * 3:  # warm both workers' pools and caches
            requests.get(base + p, timeout=10)
        session = requests.Session()

        def one(i: int) -> float:
            t = time.perf_counter()
            resp = session.get(base + paths[i % len(paths)], timeout=10)
            elapsed = (time.perf_counter() - t) * 1000
            if resp.status_code != 200:
                raise RuntimeError(f"{paths[i % len(paths)]}: {resp.status_code}")
            return elapsed

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            times = sorted(pool.map(one, range(REQUESTS)))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    q = statistics.quantiles(times, n=100)
    return {"p50": q[49], "p95": q[94], "p99": q[98], "n": len(times)}


def main() -> list[tuple[str, float, bool]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        sqlite_url = f"sqlite:///{tmp}/history.db"
        print(f"bench history: filling SQLite with {ROWS} rows", flush=True)
        fill(sqlite_url, ROWS)
        results["SQLite"] = measure(sqlite_url)
    reason = postgres.available()
    if reason:
        print(f"bench history: PostgreSQL skipped: {reason}")
    else:
        with postgres.PostgresCluster() as pg:
            url = pg.create_database("bench")
            print(f"bench history: filling PostgreSQL with {ROWS} rows", flush=True)
            fill(url, ROWS)
            results["PostgreSQL"] = measure(url)
    print()
    print("| database | rows | requests | p50 ms | p95 ms | p99 ms | p95 <= 50 ms |")
    print("|---|---:|---:|---:|---:|---:|---|")
    checks = []
    for name, r in results.items():
        ok = r["p95"] <= 50
        checks.append((name, r["p95"], ok))
        cells = (name, ROWS, f"{r['n']:.0f}", f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['p99']:.1f}")
        print("| " + " | ".join(map(str, cells)) + f" | {'yes' if ok else 'NO'} |")
    return checks


if __name__ == "__main__":
    main()

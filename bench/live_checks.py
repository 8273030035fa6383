"""Bench parts for the live inventory: freshness under caching, the 1,000-container run, worker memory."""

from __future__ import annotations

import json
import math
import statistics
import time
from functools import partial
from typing import Any

import docker
import requests

from tests.support.stack import Stack

FRESH_LABEL = "org.container-inventory.bench-fresh"

WORKER_MEMORY = r"""
import json, os
out = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        status = open(f"/proc/{pid}/status").read()
        cmdline = open(f"/proc/{pid}/cmdline").read()
    except OSError:
        continue
    if "gunicorn" in cmdline:
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        out.append({"pid": int(pid), "ppid": int(fields["PPid"]), "rss_kb": int(fields["VmRSS"].split()[0])})
print(json.dumps(out))
"""


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def freshness(client: docker.DockerClient, stack: Stack, run: Any, changes: int = 50) -> dict[str, float]:
    """Alternately start a new container and stop it; time until the anonymous (micro-cached) listing shows it."""
    url = f"{stack.url}/api/containers?all=true&label={FRESH_LABEL}"
    session = requests.Session()

    def state_of(cid: str) -> str | None:
        resp = session.get(url, timeout=5)
        if resp.status_code != 200:
            return None
        return {c["id"]: c["state"] for c in resp.json()["items"]}.get(cid)

    delays: list[float] = []
    current: Any = None  # the container started by the last even step
    for i in range(changes):
        if i % 2 == 0:
            current = run({FRESH_LABEL: "1"})
            want = "running"
        else:
            current.stop(timeout=0)
            want = "exited"
        start = time.monotonic()
        while state_of(current.id) != want:
            if time.monotonic() - start > 15:
                raise RuntimeError(f"change {i} ({want}) not visible after 15 s")
            time.sleep(0.01)
        delays.append(time.monotonic() - start)
    return {
        "p50": statistics.median(delays),
        "p95": percentile(delays, 95),
        "max": max(delays),
        "n": len(delays),
    }


def api_ids(stack: Stack, label: str) -> set[str]:
    """Every container id the API lists for a label, following the cursor (micro-cache bypassed)."""
    ids: set[str] = set()
    cursor = None
    while True:
        params = {"all": "true", "limit": 1000, "label": label, **({"cursor": cursor} if cursor else {})}
        resp = stack.get("/api/containers", params=params, headers={"Authorization": "Bearer bench"}, timeout=30)
        resp.raise_for_status()
        body = resp.json()
        ids |= {c["id"] for c in body["items"]}
        cursor = body["next_cursor"]
        if not cursor:
            return ids


def listing_matches_engine(client: docker.DockerClient, stack: Stack, label: str, timeout: float = 300) -> float:
    """Seconds until the API lists exactly the engine's containers with ``label`` (raises if it never does)."""
    start = time.monotonic()
    engine: set[str] = set()
    while time.monotonic() - start < timeout:
        engine = {c["Id"] for c in client.api.containers(all=True, filters={"label": label})}
        try:
            if api_ids(stack, label) == engine:
                return time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"the API never listed the {len(engine)} containers labelled {label}")


def worker_memory_mb(stack: Stack) -> list[float]:
    """Resident memory of each gunicorn worker (not the master) in the flask-api container, MB."""
    _, out = stack.container("flask-api").exec_run(["python3", "-c", WORKER_MEMORY])
    procs = json.loads(out.decode().strip().splitlines()[-1])
    master = min(p["pid"] for p in procs)
    return [p["rss_kb"] / 1024 for p in procs if p["ppid"] == master]


def change_rows(client: docker.DockerClient, stack: Stack, run: Any, rounds: int = 5) -> dict[str, float]:
    """Start, kill, start, stop, rename and remove real containers; time until the recorder's change row for
    each shows in /api/changes (through Nginx, database answers are never micro-cached)."""
    session = requests.Session()

    def kinds(ref: str) -> list[str]:
        params: dict[str, str | int] = {"container": ref, "limit": 100}
        resp = session.get(f"{stack.url}/api/changes", params=params, timeout=5)
        return [r["kind"] for r in resp.json()["items"]] if resp.status_code == 200 else []

    delays: list[float] = []

    def wait(ref: str, kind: str, count: int, start: float) -> None:
        while kinds(ref).count(kind) < count:
            if time.monotonic() - start > 30:
                raise RuntimeError(f"no {kind!r} row for {ref} after 30 s")
            time.sleep(0.02)
        delays.append(time.monotonic() - start)

    def timed(action: Any, ref: str, kind: str, count: int) -> None:
        start = time.monotonic()
        action()
        wait(ref, kind, count, start)

    for _ in range(rounds):
        start = time.monotonic()
        c = run({FRESH_LABEL: "1"})
        wait(c.id, "appeared", 1, start)
        timed(c.kill, c.id, "stopped", 1)
        timed(c.start, c.id, "restarted", 1)
        timed(partial(c.stop, timeout=0), c.id, "stopped", 2)
        timed(partial(c.rename, c.name + "-renamed"), c.id, "renamed", 1)
        timed(partial(c.remove, force=True), c.id, "disappeared", 1)
    return {"p50": statistics.median(delays), "p95": percentile(delays, 95), "max": max(delays), "n": len(delays)}

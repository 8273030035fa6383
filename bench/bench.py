"""`make bench`: the numbers behind docs/PERFORMANCE.md, measured side by side in one run.

Runs the real stack (Stack helper, unique project) with its default configuration (live state on, Nginx
micro-cache on) and, at 10 and 200 running containers, drives at concurrency 32 with `wrk`:
  static    - the same response bytes served as a file by the same Nginx (the ceiling)
  cached    - /api/containers answered from Nginx's micro-cache
  uncached  - /api/containers with the micro-cache bypassed: Nginx -> gunicorn -> live state (no engine call)
  engine    - GET /containers/json straight on the engine's unix socket (the floor)
plus the uncached path's latency at a steady offered load (half its measured capacity, open loop: see
openloop.py; a 32-connection closed loop's p50 is only 32 / throughput), and counts the engine list calls
the API made meanwhile (they must be the live state's resyncs only).
Then: freshness (50 changes, time until /api/containers shows each, caching on) and a run at
BENCH_BIG (1000) containers: the listing matches the engine, and the API's memory per worker.
Only 127.0.0.1 and the engine socket are used; every container the bench starts is removed.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import openloop
from live_checks import api_ids, change_rows, freshness, listing_matches_engine, worker_memory_mb
from report import BigRun, Row, report

from tests.support.stack import Stack, docker_bin, free_port, image_tag

CONCURRENCY = 32
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
COUNTS = [int(n) for n in os.environ.get("BENCH_COUNTS", "10,200").split(",")]
# The steady-load latency run offers this share of the uncached path's measured capacity (open loop).
STEADY_SHARE = float(os.environ.get("BENCH_STEADY_SHARE", "0.5"))
BIG = int(os.environ.get("BENCH_BIG", "1000"))  # 0 skips the 1,000-container run
LABEL = "org.container-inventory.bench"
# Any Authorization header bypasses Nginx's micro-cache (auth is off in the bench stack, so it is not checked).
BYPASS = {"Authorization": "Bearer bench-bypasses-the-micro-cache"}
BASE = os.environ.get("BASE_IMAGE", "debian:bookworm-slim")


def wrk(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t", "2", "-c", str(CONCURRENCY), "-d", f"{DURATION}s", "--latency"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"bench: wrk printed no Requests/sec line: {out[-300:]!r}")
    rps = float(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "bad": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0),
    }


def engine_floor(sock_path: str = "/var/run/docker.sock") -> dict[str, float]:
    """GET /containers/json on the engine socket at the same concurrency (Python client)."""
    stop = time.monotonic() + DURATION
    latencies: list[float] = []
    lock = threading.Lock()

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(sock_path)

    def worker() -> None:
        conn = Conn("localhost", timeout=30)
        mine = []
        while time.monotonic() < stop:
            t = time.perf_counter()
            conn.request("GET", "/containers/json")
            conn.getresponse().read()
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "bad": 0,
    }


def api_counter(stack: Stack, name: str, **labels: str) -> float:
    """A counter of the API summed over its workers, read from /metrics inside flask-api (not routed by Nginx)."""
    script = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8000/metrics').read().decode())"
    _, out = stack.container("flask-api").exec_run(["python3", "-c", script])
    total = 0.0
    for line in out.decode().splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def engine_calls(stack: Stack) -> tuple[float, float]:
    """(full engine list calls, live-state resyncs) so far; each resync is exactly one list call."""
    return (
        api_counter(stack, "inventory_backend_requests_total", operation="list"),
        api_counter(stack, "inventory_live_resyncs_total"),
    )


def start_one(client: docker.DockerClient, labels: dict[str, str], into: list[Any]) -> Any:
    c = client.containers.run(
        BASE,
        ["sleep", "infinity"],
        detach=True,
        network_disabled=True,
        labels={LABEL: "1", **labels},
        cap_drop=["ALL"],
        read_only=True,
        user="65534",
        stop_signal="SIGKILL",
    )
    into.append(c)
    return c


def remove_quietly(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass  # removed by the run itself (change_rows removes what it made)


def scale_to(client: docker.DockerClient, n: int, already: list[Any]) -> None:
    """Start small labelled containers until ``already`` holds ``n``."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: start_one(client, {}, already), range(n - len(already))))


def start_to_ready(client: docker.DockerClient, stack: Stack) -> list[float]:
    """docker create+start of flask-api until /readyz answers 200 (published on 127.0.0.1)."""
    engine_net = client.networks.get(f"{stack.project}_engine")
    out = []
    for _ in range(3):
        port = free_port()
        t0 = time.monotonic()
        c = client.containers.create(
            f"flask-api:{image_tag()}",
            network=f"{stack.project}_edge",  # internal networks cannot publish ports
            environment={"DOCKER_HOST": "tcp://socket-proxy:2375"},
            ports={"8000/tcp": ("127.0.0.1", port)},
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            tmpfs={"/tmp": "size=64m,mode=1777"},
        )
        try:
            engine_net.connect(c)
            c.start()
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() - t0 > 30:
                    raise RuntimeError("flask-api never became ready")
                time.sleep(0.02)
            out.append(time.monotonic() - t0)
        finally:
            c.remove(force=True)
    return out


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    client = docker.from_env()
    sizes = {
        img: client.images.get(f"{img}:{image_tag()}").attrs["Size"] / 1e6
        for img in ("flask-api", "nginx-proxy", "socket-proxy")
    }
    env = {"RATE_LIMIT": "1000000r/s", "RATE_BURST": "1000000", "BENCH_STATIC": "1", "LOG_LEVEL": "WARNING"}
    stack = Stack(env=env)
    extra: list[Any] = []
    rows: list[Row] = []
    print(f"bench: {CONCURRENCY} connections, {DURATION}s per run, counts {COUNTS}, big run {BIG}", flush=True)
    try:
        stack.up()
        ready = start_to_ready(client, stack)
        for n in COUNTS:
            running = len(client.containers.list())
            scale_to(client, max(n - running + len(extra), len(extra)), extra)
            listing_matches_engine(client, stack, LABEL)
            running = len(client.containers.list())
            url = f"{stack.url}/api/containers?limit=1000"
            body = requests.get(url, timeout=10).content
            subprocess.run(
                [
                    docker_bin(),
                    "exec",
                    "-i",
                    stack.container("nginx-proxy").name,
                    "sh",
                    "-c",
                    "cat > /tmp/nginx/static/containers.json",
                ],
                input=body,
                check=True,
            )
            static = wrk(f"{stack.url}/_bench/containers.json")
            calls0 = engine_calls(stack)
            cached = wrk(url)
            uncached = wrk(url, BYPASS)
            steady = openloop.run(url, STEADY_SHARE * uncached["rps"], DURATION, BYPASS)
            calls1 = engine_calls(stack)
            floor = engine_floor()
            lists, resyncs = calls1[0] - calls0[0], calls1[1] - calls0[1]
            rows.append((n, running, len(body), static, cached, uncached, floor, lists, resyncs, steady))
        fresh = freshness(client, stack, lambda labels: start_one(client, labels, extra))
        changes = change_rows(client, stack, lambda labels: start_one(client, labels, extra))
        big: BigRun = {}
        if BIG:
            scale_to(client, max(BIG - len(client.containers.list()) + len(extra), len(extra)), extra)
            big["containers"] = len(client.containers.list())
            big["converged_s"] = listing_matches_engine(client, stack, LABEL, timeout=600)
            big["bench_listed"] = len(api_ids(stack, LABEL))
            big["worker_mb"] = worker_memory_mb(stack)
            big["uncached"] = wrk(f"{stack.url}/api/containers?limit=1000", BYPASS)
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove_quietly, extra))
        stack.down()
    report(rows, fresh, changes, big, sizes, ready)


if __name__ == "__main__":
    main()
    from history_bench import main as history_main  # /api/changes with 100k rows, SQLite and PostgreSQL

    history_main()

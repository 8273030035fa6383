"""`make bench`: the numbers behind the README's performance section. Prints a table.

Runs the real stack (Stack helper, unique project) with the API's own list cache off
(CACHE_TTL=0, single-flight stays on), so that:
  static    - the same response bytes served as a file by the same Nginx (the ceiling)
  cached    - /api/containers answered from Nginx's 1 s micro-cache
  uncached  - /api/containers with the micro-cache bypassed: Nginx -> gunicorn -> socket proxy -> engine
  engine    - GET /containers/json straight on the engine's unix socket (the floor)
at concurrency 32, with 10 and with 200 running containers (small containers the bench
starts and removes). Only 127.0.0.1 and the engine socket are used.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.stack import Stack, docker_bin, free_port, image_tag

CONCURRENCY = 32
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
COUNTS = [int(n) for n in os.environ.get("BENCH_COUNTS", "10,200").split(",")]
LABEL = "org.container-inventory.bench"
BASE = os.environ.get("BASE_IMAGE", "debian:12.12-slim")


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

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
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


def engine_list_calls(stack: Stack) -> float:
    """inventory_backend_requests_total{operation="list"} summed, read from inside flask-api."""
    script = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8000/metrics').read().decode())"
    _, out = stack.container("flask-api").exec_run(["python3", "-c", script])
    total = 0.0
    for line in out.decode().splitlines():
        if line.startswith("inventory_backend_requests_total{") and 'operation="list"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def scale_to(client: docker.DockerClient, n: int, already: list) -> None:
    def start(_: int):
        return client.containers.run(
            BASE,
            ["sleep", "infinity"],
            detach=True,
            network_disabled=True,
            labels={LABEL: "1"},
            cap_drop=["ALL"],
            read_only=True,
            user="65534",
        )

    with ThreadPoolExecutor(8) as pool:
        already.extend(pool.map(start, range(n - len(already))))


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
    env = {
        "CACHE_TTL": "0",
        "RATE_LIMIT": "1000000r/s",
        "RATE_BURST": "1000000",
        "BENCH_STATIC": "1",
        "LOG_LEVEL": "WARNING",
    }
    stack = Stack(env=env)
    extra: list = []
    rows = []
    print(f"bench: {CONCURRENCY} connections, {DURATION}s per run, counts {COUNTS}", flush=True)
    try:
        stack.up()
        ready = start_to_ready(client, stack)
        for n in COUNTS:
            running = len(client.containers.list())
            scale_to(client, max(n - running + len(extra), len(extra)), extra)
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
            calls0, t0 = engine_list_calls(stack), time.monotonic()
            cached = wrk(url)
            cached_calls = (engine_list_calls(stack) - calls0) / (time.monotonic() - t0)
            calls0, t0 = engine_list_calls(stack), time.monotonic()
            uncached = wrk(url, {"Authorization": "Bearer bench-bypasses-the-micro-cache"})
            uncached_calls = (engine_list_calls(stack) - calls0) / (time.monotonic() - t0)
            floor = engine_floor()
            rows.append((running, len(body), static, cached, uncached, floor, cached_calls, uncached_calls))
    finally:
        for c in extra:
            c.remove(force=True)
        stack.down()

    print()
    print("| containers | body KB | target | req/s | p50 ms | p99 ms | errors | engine list calls/s |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for running, size, static, cached, uncached, floor, cc, uc in rows:
        for name, r, calls in (
            ("static file (ceiling)", static, ""),
            ("cached (Nginx micro-cache)", cached, f"{cc:.2f}"),
            ("uncached (via API)", uncached, f"{uc:.1f}"),
            ("engine /containers/json (floor)", floor, ""),
        ):
            print(
                f"| {running} | {size / 1024:.0f} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                f"{int(r['bad'])} | {calls} |"
            )
    print()
    print("| check | value | target | ok |")
    print("|---|---:|---:|---|")

    def check(name: str, value: str, target: str, ok: bool) -> None:
        print(f"| {name} | {value} | {target} | {'yes' if ok else 'NO'} |")

    for running, _, static, cached, _uncached, _floor, cc, _ in rows:
        ratio = cached["rps"] / static["rps"]
        check(f"cached / static req/s at {running} containers", f"{ratio:.0%}", ">= 70%", ratio >= 0.7)
        check(f"engine list calls per 1 s cache window at {running}", f"{cc:.2f}", "<= 1", cc <= 1.05)
    big = rows[-1]
    factor = big[4]["p50"] / big[5]["p50"]
    check(f"uncached p50 / engine p50 at {big[0]} containers", f"{factor:.2f}x", "<= 1.5x", factor <= 1.5)
    for img, limit in (("flask-api", 150), ("nginx-proxy", 100), ("socket-proxy", 150)):
        check(f"{img} image size", f"{sizes[img]:.0f} MB", f"<= {limit} MB", sizes[img] <= limit)
    med = statistics.median(ready)
    check("flask-api start -> ready (median of 3)", f"{med:.2f} s", "<= 3 s", med <= 3)
    Path("reports").mkdir(exist_ok=True)
    Path("reports/bench.json").write_text(
        json.dumps(
            {"rows": [r[:2] + r[2:6] for r in rows], "sizes": sizes, "start_to_ready": ready}, default=str, indent=1
        )
    )


if __name__ == "__main__":
    main()

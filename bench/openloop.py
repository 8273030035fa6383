"""Latency at a fixed offered load (open loop), the way wrk2 measures it.

A closed-loop run (`wrk -c 32`) keeps 32 requests in flight, so once the server is saturated its p50 is just
``32 / throughput`` (Little's law): it measures throughput, not latency. Here requests are *scheduled* at a
constant rate, and each latency is counted from the moment the request was due, not from when a client thread
got round to sending it, so a server that falls behind is charged for the queue it builds (no coordinated
omission). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

from live_checks import percentile

SENDERS = 32  # threads; more than the in-flight requests a rate below capacity needs


def run(url: str, rate: float, seconds: float, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Send GET ``url`` at ``rate`` requests/s for ``seconds``; latency percentiles (ms) from the due time."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    next_index = iter(range(total))

    def sender() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        mine: list[float] = []
        bad = 0
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request("GET", path, headers=headers or {})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
            mine.append((time.perf_counter() - due) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "rate": rate,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "n": len(latencies),
        "bad": errors,
    }

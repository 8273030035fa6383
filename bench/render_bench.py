"""The listing's render on a cache miss, in-process: select, page and encode N containers (no HTTP, no engine).

`make bench`'s uncached listing is answered from the rendered-page cache while the inventory is unchanged (one
render per state version), so its req/s hardly show the encoder. This times what a change costs: the real app
(recorded Docker answers through the real normalisation and live state) answers GET /api/containers?limit=1000
with its rendered-page cache emptied before each request (a full select + page + encode), N containers per page.
Run alone: `.venv/bin/python bench/render_bench.py` (BENCH_RENDER_COUNTS, default 200,1000).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _unit_test_support() -> Any:
    """The unit tests' recorded backend and app factory (api/tests/conftest.py; the root conftest has the name)."""
    spec = importlib.util.spec_from_file_location("api_unit_support", ROOT / "api" / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SUPPORT = _unit_test_support()

COUNTS = [int(n) for n in os.environ.get("BENCH_RENDER_COUNTS", "200,1000").split(",")]
ROUNDS = int(os.environ.get("BENCH_RENDER_ROUNDS", "200"))


def run(count: int) -> tuple[float, float]:
    """(p50 ms, p95 ms) of a cache-missing listing of ``count`` running containers."""
    backend = SUPPORT.RecordedBackend()
    template = next(i for i in backend.listing if i["State"] == "running")
    backend.listing = []
    for n in range(count):
        entry = copy.deepcopy(template)
        entry["Id"] = f"{n:064x}"
        entry["Names"] = [f"/bench-{n}"]
        backend.listing.append(entry)
    app = SUPPORT.make_app(backend, CACHE_TTL="3600", LOG_LEVEL="WARNING")  # listed once: no engine call per request
    client = app.test_client()
    assert len(client.get("/api/containers?limit=1000").get_json()["items"]) == min(count, 1000)
    pages = app.extensions["pages"]
    times = []
    for _ in range(ROUNDS):
        pages._cache = type(pages._cache)(256)  # a miss: what the first request after a change pays
        start = time.perf_counter()
        resp = client.get("/api/containers?limit=1000")
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    print("| containers | render on a cache miss p50 ms | p95 ms |\n|---:|---:|---:|")
    for count in COUNTS:
        p50, p95 = run(count)
        print(f"| {count} | {p50:.1f} | {p95:.1f} |", flush=True)


if __name__ == "__main__":
    main()

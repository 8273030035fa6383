"""(4) Metrics are exact under the real gunicorn with several workers (multiprocess mode)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .support import ROOT, free_port, http_get, process, wait_http_ok

API = ROOT / "api"
N_REQUESTS = 150
WORKERS = 3


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, lbls), v in samples.items() if n == name and labels.items() <= dict(lbls).items())


def test_n_requests_across_workers_are_counted_exactly_once(tmp_path: Path) -> None:
    if not (API / "gunicorn.conf.py").exists():
        pytest.fail("api/gunicorn.conf.py is missing")
    port = free_port()
    closed_port = free_port()  # nothing listens: the backend is down, which /api/version does not need
    multiproc = tmp_path / "prometheus"
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "WEB_CONCURRENCY": str(WORKERS),
        "BIND": f"127.0.0.1:{port}",
        "DOCKER_HOST": f"tcp://127.0.0.1:{closed_port}",
        "ENGINE_TIMEOUT": "0.5",
        "GUNICORN_TMP_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    log = tmp_path / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "inventory.wsgi:app"]
    base = f"http://127.0.0.1:{port}"
    with process(argv, log, env=env, cwd=API) as proc:
        wait_http_ok(f"{base}/healthz", proc, log)
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda _: http_get(f"{base}/api/version")[0], range(N_REQUESTS)))
        assert statuses == [200] * N_REQUESTS
        # Each worker that handled a request has its own counter file; several must have served.
        pids = {p.stem.rsplit("_", 1)[-1] for p in multiproc.glob("counter_*.db")}
        assert len(pids) >= 2, f"only workers {pids} served; the test would not prove aggregation"
        status, body = http_get(f"{base}/metrics")
        assert status == 200

    samples = _samples(body)
    route = {"route": "/api/version", "method": "GET", "status": "200"}
    assert _value(samples, "inventory_http_requests_total", **route) == N_REQUESTS
    assert _value(samples, "inventory_http_request_duration_seconds_count", **route) == N_REQUESTS
    assert _value(samples, "inventory_http_request_duration_seconds_bucket", le="+Inf", **route) == N_REQUESTS
    # Only the /metrics request itself is in flight while it is being rendered.
    assert _value(samples, "inventory_http_requests_in_flight") == 1
    assert _value(samples, "inventory_backend_up") == 0
    assert _value(samples, "inventory_build_info") == 1

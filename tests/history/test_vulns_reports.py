"""Vulnerability reports per image digest on real databases (issue 18): migration 0002 down and up with reports
stored, the replacement recorded, on SQLite and PostgreSQL; real Trivy writing a CycloneDX SBOM of our own
flask-api image (offline: an SBOM needs no vulnerability DB); the real recorder process ingesting a reports
directory, logging and counting a bad file without stopping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from inventory.history import db
from inventory.history.models import Change
from inventory.vulns.parse import parse_report
from inventory.vulns.store import OLDER, REPLACED, STORED, store_report
from inventory.vulns.tables import TABLES, ImageFindingRow, ImageReportRow
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from tests.support.prereq import unavailable
from tests.support.stack import ROOT, free_port, image_tag

FIXTURES = ROOT / "api" / "tests" / "fixtures" / "vulns"
TRIVY = os.environ.get("TRIVY", str(ROOT / ".venv" / "bin" / "trivy"))


def _store(url: str, name: str) -> str:
    data = (FIXTURES / name).read_bytes()
    return store_report(db.make_engine(url), parse_report(data), data, name).status


def test_reports_stored_replaced_and_migrated_down_and_up(migrated_url: str) -> None:
    engine = db.make_engine(migrated_url)
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    assert [_store(migrated_url, n) for n in ("trivy.json", "grype.json", "cyclonedx-vex.json", "grype.json")] == [
        STORED,
        REPLACED,
        REPLACED,
        OLDER,
    ]
    with Session(engine) as s:
        [report] = s.scalars(select(ImageReportRow)).all()
        assert (report.format, report.critical, report.not_counted) == ("cyclonedx-1.6", 1, 2)
        assert s.scalar(select(func.count()).select_from(ImageFindingRow)) == 6
        kinds = s.scalars(select(Change.kind).order_by(Change.id)).all()
        assert kinds == ["report_stored", "report_replaced", "report_replaced"]
    db.downgrade(engine, "0001")  # the reports go, the change history stays
    assert not set(TABLES) & set(inspect(engine).get_table_names())
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Change)) == 3
    db.upgrade(engine)
    assert _store(migrated_url, "trivy.json") == STORED


@pytest.fixture(scope="module")
def real_sbom(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """`trivy image --format cyclonedx` of our flask-api image, offline, and the image's id from the engine."""
    if not Path(TRIVY).is_file():
        unavailable(f"trivy not installed at {TRIVY} (make venv)")
    image = f"flask-api:{image_tag()}"
    probe = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True)
    if probe.returncode != 0:
        unavailable(f"{image} not built (make images)")
    out = tmp_path_factory.mktemp("sbom") / "flask-api.cdx.json"
    cache = tmp_path_factory.mktemp("trivy-cache")
    cmd = [TRIVY, "image", "--quiet", "--format", "cyclonedx", "--output", str(out), "--cache-dir", str(cache)]
    cmd += ["--skip-db-update", "--skip-java-db-update", "--skip-check-update", "--offline-scan", image]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-500:]
    return out.read_bytes(), probe.stdout.strip()


def test_real_trivy_sbom_of_our_image(migrated_url: str, real_sbom: tuple[bytes, str]) -> None:
    data, image_id = real_sbom
    report = parse_report(data, expected_digest=image_id)  # the digest check against the engine's own id
    assert report.digest == image_id and report.scanner == "trivy" and report.format.startswith("cyclonedx-1.")
    assert store_report(db.make_engine(migrated_url), report, data, "trivy-sbom").status == STORED
    with pytest.raises(ValueError, match=r"the report is for sha256:"):
        parse_report(data, expected_digest="sha256:" + "0" * 64)


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return str(resp.read().decode())


@pytest.fixture()
def recorder_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, str, int]]:
    reports = tmp_path / "reports"
    reports.mkdir()
    url = f"sqlite:///{tmp_path}/history.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR",)}
    env.update(
        DATABASE_URL=url,
        REPORTS_DIR=str(reports),
        REPORT_MAX_BYTES="65536",
        RECORDER_METRICS_PORT=str(port),
        RECORDER_INTERVAL="0.2",
        BACKEND="docker",
        DOCKER_HOST="unix:///var/run/docker.sock",
        LOG_LEVEL="INFO",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "inventory.recorder"],
        cwd=ROOT / "api",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield proc, reports, url, port
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def _until(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _report_count(url: str) -> int:
    engine = db.make_engine(url, writer=False)
    try:
        with Session(engine) as s:
            return int(s.scalar(select(func.count()).select_from(ImageReportRow)) or 0)
    except Exception:  # noqa: BLE001 (not migrated yet)
        return -1
    finally:
        engine.dispose()


def test_real_recorder_ingests_the_reports_directory(
    recorder_process: tuple[subprocess.Popen[bytes], Path, str, int],
) -> None:
    proc, reports, url, port = recorder_process
    (reports / ".bad.json").write_bytes(b'{"matches": [')
    (reports / ".bad.json").rename(reports / "bad.json")
    (reports / "big.json").write_bytes(b" " * 70000)
    (reports / ".vex.json").write_bytes((FIXTURES / "cyclonedx-vex.json").read_bytes())
    (reports / ".vex.json").rename(reports / "vex.json")
    _until(lambda: _report_count(url) == 1, "the VEX report stored by the recorder")
    _until(
        lambda: (
            'inventory_reports_rejected_total{reason="malformed"} 1.0' in _metrics(port)
            and 'inventory_reports_rejected_total{reason="oversized"} 1.0' in _metrics(port)
        ),
        "the bad and the oversized file counted",
    )
    assert proc.poll() is None, "the recorder stopped on a bad report"
    (reports / "trivy.json").write_bytes((FIXTURES / "trivy.json").read_bytes())  # older scan: kept out
    _until(lambda: 'inventory_reports_ingested_total{outcome="older"} 1.0' in _metrics(port), "older report seen")
    assert _report_count(url) == 1 and proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0
    rejected = [line for line in out.splitlines() if '"report rejected"' in line]
    assert any('"file": "bad.json"' in line and '"reason": "malformed"' in line for line in rejected), out[-2000:]
    assert any('"file": "big.json"' in line and '"reason": "oversized"' in line for line in rejected), out[-2000:]

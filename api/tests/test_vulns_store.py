"""Image reports in the history database (real SQLite): replacement recorded as a change row, refusals change
nothing, the reports directory the recorder watches (issue 18)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from inventory.config import ConfigError, load_recorder_settings
from inventory.history import db
from inventory.history.models import Change
from inventory.model import BackendUnavailable
from inventory.recorder.loop import Recorder
from inventory.recorder.reports import INGESTED, REJECTED, ReportsDirectory
from inventory.recorder.store import HistoryStore
from inventory.vulns.parse import parse_report
from inventory.vulns.read import image_digests, image_vulns
from inventory.vulns.store import OLDER, REPLACED, STORED, UNCHANGED, store_report
from inventory.vulns.tables import ImageDigestRow, ImageFindingRow, ImageReportRow
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

FIXTURES = Path(__file__).parent / "fixtures" / "vulns"
ID = "sha256:" + "1" * 64


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    e = db.make_engine(f"sqlite:///{tmp_path}/history.db")
    db.upgrade(e)
    return e


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def store(engine: Engine, name: str) -> str:
    data = raw(name)
    return store_report(engine, parse_report(data), data, name).status


def rows(engine: Engine, model: Any) -> list[Any]:
    with Session(engine) as s:
        return list(s.scalars(select(model)))


def test_newer_report_replaces_and_is_recorded(engine: Engine) -> None:
    assert store(engine, "trivy.json") == STORED  # scanned 2026-12-01
    assert store(engine, "grype.json") == REPLACED  # 2026-12-02, same image by id and repo digest
    assert store(engine, "cyclonedx-vex.json") == REPLACED  # 2026-12-03
    assert store(engine, "trivy.json") == OLDER  # an older report never replaces a newer one
    assert store(engine, "cyclonedx-vex.json") == UNCHANGED
    [report] = rows(engine, ImageReportRow)
    assert (report.digest, report.format, report.scanner, report.origin) == (
        ID,
        "cyclonedx-1.6",
        "trivy",
        "cyclonedx-vex.json",
    )
    assert (report.critical, report.high, report.medium, report.low, report.unknown) == (1, 0, 1, 1, 1)
    assert (report.fixable, report.not_counted) == (2, 2)
    assert report.scanned_at == dt.datetime(2026, 12, 3, 12)
    assert {d.digest for d in rows(engine, ImageDigestRow)} == {ID, "sha256:" + "2" * 64}
    findings = rows(engine, ImageFindingRow)
    assert len(findings) == 6 and {f.report_id for f in findings} == {report.id}
    na = next(f for f in findings if f.vuln_id == "CVE-2026-0202")
    assert (na.vex_state, na.justification) == (
        "not_affected",
        "code_not_reachable: the FTS5 extension is never loaded",
    )
    changes = sorted(rows(engine, Change), key=lambda c: c.id)
    assert [c.kind for c in changes] == ["report_stored", "report_replaced", "report_replaced"]
    assert changes[1].old is not None and changes[1].old.startswith("trivy 0.76.0 at 2026-12-01T10:15:30")
    assert changes[1].new is not None and changes[1].new.startswith("grype 0.87.0 db v6.0.2")
    assert {c.workload for c in changes} == {f"image {ID}"}


def test_report_of_another_digest_is_separate(engine: Engine) -> None:
    store(engine, "trivy.json")
    store(engine, "trivy-sbom-flask-api.cdx.json")
    assert len(rows(engine, ImageReportRow)) == 2


def _write(path: Path, data: bytes, mtime: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime, mtime))


def _metric(counter: Any, label: str) -> float:
    return float(counter.labels(label)._value.get())


def test_reports_directory(engine: Engine, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    _write(reports / "a-trivy.json", raw("trivy.json"), 10**18)
    _write(reports / "b-bad.json", b'{"SchemaVersion": 2, "Results": [', 10**18)
    _write(reports / "c-big.json", b" " * 5000, 10**18)
    _write(reports / ".d-partial.json", b"{", 10**18)  # being written: hidden until renamed
    (reports / "notes.txt").write_text("not a report")
    before = {r: _metric(REJECTED, r) for r in ("malformed", "oversized")}
    watched = ReportsDirectory(engine, str(reports), max_bytes=4096)
    first = {i.file: (i.outcome, i.reason) for i in watched.scan()}
    assert first == {
        "a-trivy.json": ("stored", None),
        "b-bad.json": ("rejected", "malformed"),
        "c-big.json": ("rejected", "oversized"),
    }
    assert _metric(REJECTED, "malformed") == before["malformed"] + 1
    assert _metric(REJECTED, "oversized") == before["oversized"] + 1
    assert watched.scan() == []  # nothing new: no re-read, no repeated log line or metric
    _write(reports / "a-trivy.json", raw("grype.json"), 2 * 10**18)  # changed file: read again
    _write(reports / "b-bad.json", raw("cyclonedx-vex.json"), 2 * 10**18)  # fixed file: stored
    again = {i.file: i.outcome for i in watched.scan()}
    assert again == {"a-trivy.json": "replaced", "b-bad.json": "replaced"}
    [report] = rows(engine, ImageReportRow)
    assert report.origin == "reports-dir:b-bad.json" and report.scanner == "trivy"


def test_rejected_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    store(engine, "trivy.json")
    reports = tmp_path / "reports"
    reports.mkdir()
    wrong = json.loads(raw("grype.json"))
    wrong["descriptor"].pop("timestamp")
    (reports / "grype.json").write_text(json.dumps(wrong))
    stored_before = _metric(INGESTED, "rejected")
    assert [i.outcome for i in ReportsDirectory(engine, str(reports), 1 << 20).scan()] == ["rejected"]
    assert _metric(INGESTED, "rejected") == stored_before + 1
    [report] = rows(engine, ImageReportRow)
    assert report.format == "trivy-json" and [c.kind for c in rows(engine, Change)] == ["report_stored"]


class DownReader:
    """An inventory whose engine is unreachable: the reports directory must still be read."""

    def state(self) -> Any:
        raise BackendUnavailable("engine down")

    def wait_for_change(self, version: int, timeout: float) -> None:
        return None


def test_recorder_loop_reads_the_directory_even_with_the_backend_down(engine: Engine, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "vex.json").write_bytes(raw("cyclonedx-vex.json"))
    (reports / "bad.json").write_bytes(b"[1, 2")
    watched = ReportsDirectory(engine, str(reports), 1 << 20)
    recorder = Recorder(DownReader(), HistoryStore(engine), 7, tasks=[watched.scan])  # type: ignore[arg-type]
    passes = []

    def wait(after_version: int) -> int:
        passes.append(1)
        if len(passes) == 2:
            recorder.stopping.set()
        return after_version

    recorder.run(wait)
    assert len(passes) == 2  # the bad file stopped nothing
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ImageReportRow)) == 1


def test_image_vulns_by_any_digest_of_a_container(engine: Engine) -> None:
    store(engine, "cyclonedx-vex.json")
    repo = "sha256:" + "2" * 64
    # Docker: image id; Kubernetes: imageID with the runtime's prefix and the repository digest
    docker = image_digests(ID, [])
    k8s = image_digests(f"docker-pullable://registry.example.test/inventory/flask-api@{repo}")
    assert (docker, k8s) == ((ID,), (repo,))
    found = image_vulns(engine, [*docker, *k8s, "sha256:" + "9" * 64])
    assert set(found) == {ID, repo} and found[ID] == found[repo]
    v = found[ID]
    assert dict(v.counts) == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1}
    assert v.fixable == 2 and v.age(dt.datetime(2026, 12, 4, 12)) == dt.timedelta(days=1)
    assert [(n.vuln_id, n.vex_state, n.justification) for n in v.not_counted] == [
        ("CVE-2026-0202", "not_affected", "code_not_reachable: the FTS5 extension is never loaded"),
        ("CVE-2026-0205", "false_positive", "the scanner matched the wrong source package"),
    ]
    assert image_vulns(engine, ["sha256:" + "9" * 64]) == {} and image_vulns(engine, []) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REPORTS_DIR": "reports"}, r"REPORTS_DIR='reports' must be an absolute path"),
        ({"REPORT_MAX_BYTES": "10"}, r">= 1024"),
    ],
)
def test_reports_settings_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_recorder_settings(env)


def test_reports_settings() -> None:
    rec = load_recorder_settings({"REPORTS_DIR": "/srv/reports", "REPORT_MAX_BYTES": "2048"})
    assert (rec.reports_dir, rec.report_max_bytes) == ("/srv/reports", 2048)
    assert load_recorder_settings({}).reports_dir == ""  # off by default

"""Vulnerability reports: every accepted format parsed into the one model, and every refused report refused with
one typed error (issue 18). Fixtures: a real Trivy CycloneDX SBOM of our flask-api image, hand-written but
realistic Trivy JSON, Grype JSON and CycloneDX VEX."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from inventory.vulns.model import ReportError
from inventory.vulns.parse import parse_report

FIXTURES = Path(__file__).parent / "fixtures" / "vulns"
ID = "sha256:" + "1" * 64
REPO = "sha256:" + "2" * 64


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> Any:
    return json.loads(raw(name))


def dump(d: Any) -> bytes:
    return json.dumps(d).encode()


def test_trivy_json() -> None:
    r = parse_report(raw("trivy.json"))
    assert (r.digest, r.also_known_as, r.format) == (ID, (REPO,), "trivy-json")
    assert (r.scanner, r.scanner_version, r.db_version) == ("trivy", "0.76.0", None)
    assert r.scanned_at == dt.datetime(2026, 12, 1, 10, 15, 30, 123456)
    assert r.counts() == {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 2, "LOW": 1, "UNKNOWN": 1}
    assert r.fixable() == 4
    crit = next(f for f in r.findings if f.vuln_id == "CVE-2026-0001")
    assert (crit.package, crit.installed, crit.fixed, crit.fix_available) == (
        "openssl",
        "3.0.15-1~deb12u1",
        "3.0.16-1~deb12u1",
        True,
    )
    unfixed = next(f for f in r.findings if f.vuln_id == "CVE-2026-0003")
    assert (unfixed.fixed, unfixed.fix_available, unfixed.vex_state) == (None, False, None)


def test_grype_json() -> None:
    r = parse_report(raw("grype.json"))
    assert r.digest == ID and set(r.also_known_as) == {REPO, "sha256:" + "3" * 64}
    assert (r.scanner, r.scanner_version, r.format) == ("grype", "0.87.0", "grype-json")
    assert r.db_version == "v6.0.2 built 2026-12-01T04:12:00Z"
    assert r.scanned_at == dt.datetime(2026, 12, 2, 7, 0, 0, 500000)  # +01:00 -> UTC
    assert r.counts() == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1}  # Negligible -> UNKNOWN
    wont = next(f for f in r.findings if f.vuln_id == "CVE-2026-0103")
    assert wont.fixed is None  # a version listed under state wont-fix is no fix
    assert r.fixable() == 2


def test_grype_older_db_descriptor() -> None:
    d = doc("grype.json")
    d["descriptor"]["db"] = {"built": "2025-01-02T03:04:05Z", "schemaVersion": 5, "location": "/db"}
    assert parse_report(dump(d)).db_version == "5 built 2025-01-02T03:04:05Z"


@pytest.mark.parametrize("spec", ["1.5", "1.6", "1.7"])
def test_cyclonedx_vex(spec: str) -> None:
    d = doc("cyclonedx-vex.json")
    d["specVersion"] = spec
    r = parse_report(dump(d))
    assert (r.digest, r.also_known_as, r.format) == (ID, (REPO,), f"cyclonedx-{spec}")
    assert (r.scanner, r.scanner_version, r.scanned_at) == ("trivy", "0.76.0", dt.datetime(2026, 12, 3, 12))
    by_id = {f.vuln_id: f for f in r.findings}
    assert by_id["CVE-2026-0201"].severity == "CRITICAL"  # the rating of the vulnerability's own source
    assert by_id["CVE-2026-0201"].fixed == "3.0.16-1~deb12u1"  # from the recommendation
    assert by_id["CVE-2026-0203"].fixed == "1.3.1"  # from an unaffected version
    na = by_id["CVE-2026-0202"]
    assert (na.vex_state, na.counted) == ("not_affected", False)
    assert na.justification == "code_not_reachable: the FTS5 extension is never loaded"
    assert (by_id["CVE-2026-0205"].vex_state, by_id["CVE-2026-0205"].counted) == ("false_positive", False)
    assert by_id["CVE-2026-0206"].severity == "UNKNOWN"
    # listed, not counted: the HIGH not_affected and the CRITICAL false positive
    assert r.counts() == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1}
    assert r.fixable() == 2


def test_real_trivy_sbom_of_our_image() -> None:
    """Recorded from `trivy image --format cyclonedx` on flask-api (CycloneDX 1.7, no vulnerabilities: SBOM)."""
    r = parse_report(raw("trivy-sbom-flask-api.cdx.json"))
    assert r.digest.startswith("sha256:") and r.format == "cyclonedx-1.7"
    assert (r.scanner, r.findings, r.counts()["CRITICAL"]) == ("trivy", (), 0)


def test_expected_digest_matches_any_name_of_the_image() -> None:
    assert parse_report(raw("trivy.json"), expected_digest=ID).digest == ID
    assert parse_report(raw("trivy.json"), expected_digest=f"reg.test/app@{REPO}").digest == ID


REFUSED = [
    ("oversized", lambda: parse_report(raw("trivy.json"), max_bytes=1000), r"exceeds the limit of 1000 bytes"),
    ("malformed", lambda: parse_report(b'{"SchemaVersion": 2,'), r"not UTF-8 JSON"),
    ("malformed", lambda: parse_report(b"\xff\xfe{}"), r"not UTF-8 JSON"),
    ("unsupported", lambda: parse_report(b'{"runs": [], "version": "2.1.0"}'), r"not a Trivy JSON, Grype"),
    ("unsupported", lambda: parse_report(b"[]"), r"top-level JSON array"),
    ("unsupported", lambda: parse_report(b'"text"'), r"not a JSON object"),
    ("digest-mismatch", lambda: parse_report(raw("trivy.json"), "sha256:" + "9" * 64), r"is for sha256:1111"),
    ("bad-digest", lambda: parse_report(raw("trivy.json"), "latest"), r"not a sha256 image digest"),
]


@pytest.mark.parametrize(("reason", "call", "message"), REFUSED)
def test_refused(reason: str, call: Any, message: str) -> None:
    with pytest.raises(ReportError, match=message) as info:
        call()
    assert info.value.reason == reason


def _broken(name: str, change: Any) -> bytes:
    d = doc(name)
    change(d)
    return dump(d)


SCHEMA_REFUSED = [
    ("trivy.json", lambda d: d.pop("Metadata"), r"Trivy JSON report at \(top level\): 'Metadata' is a required"),
    ("trivy.json", lambda d: d.update(SchemaVersion=1), r"SchemaVersion"),
    ("trivy.json", lambda d: d["Results"][0]["Vulnerabilities"][0].pop("PkgName"), r"Results/0/Vulnerabilities/0"),
    (
        "trivy.json",
        lambda d: d.update(CreatedAt="2026-12-01 at ten past ten"),
        r"CreatedAt .2026-12-01 at ten past ten. is not",
    ),
    ("grype.json", lambda d: d["matches"][0]["vulnerability"].pop("fix"), r"matches/0/vulnerability"),
    ("grype.json", lambda d: d["descriptor"].pop("timestamp"), r"'timestamp' is a required property"),
    ("cyclonedx-vex.json", lambda d: d["vulnerabilities"][0]["ratings"][0].update(severity="dire"), r"CycloneDX 1.6"),
    ("cyclonedx-vex.json", lambda d: d["vulnerabilities"][1]["analysis"].update(state="fine"), r"CycloneDX 1.6"),
    ("cyclonedx-vex.json", lambda d: d.update(specVersion="1.4"), r"CycloneDX 1.4 is not accepted"),
    ("cyclonedx-vex.json", lambda d: d["metadata"].pop("timestamp"), r"no metadata.timestamp"),
]


@pytest.mark.parametrize(("name", "change", "message"), SCHEMA_REFUSED)
def test_schema_refused(name: str, change: Any, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_report(_broken(name, change))


def _no_digest_trivy(d: Any) -> None:
    d["Metadata"] = {"OS": {"Family": "debian"}}


def _no_digest_cdx(d: Any) -> None:
    d["metadata"]["component"] = {"type": "application", "name": "app", "bom-ref": "app"}


@pytest.mark.parametrize(("name", "change"), [("trivy.json", _no_digest_trivy), ("cyclonedx-vex.json", _no_digest_cdx)])
def test_no_digest(name: str, change: Any) -> None:
    with pytest.raises(ReportError, match=r"names no image digest") as info:
        parse_report(_broken(name, change))
    assert info.value.reason == "no-digest"

"""The one typed model every accepted report format is parsed into (Trivy JSON, Grype JSON, CycloneDX)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
# CycloneDX impactAnalysisState (1.4+); Trivy/Grype findings without VEX are "affected" by definition.
VEX_STATES = ("resolved", "resolved_with_pedigree", "exploitable", "in_triage", "false_positive", "not_affected")
NOT_COUNTED = frozenset({"not_affected", "false_positive", "resolved", "resolved_with_pedigree"})
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ReportError(ValueError):
    """A report we refuse: oversized, malformed, of an unknown format or for another image. Nothing was stored.

    `reason` is a short stable token (for metrics and problem+json `type`), the message one clear sentence.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Finding:
    vuln_id: str
    package: str
    installed: str
    fixed: str | None
    severity: str
    vex_state: str | None = None  # None: the scanner matched it, no VEX statement about it
    justification: str | None = None  # CycloneDX impactAnalysisJustification (or detail) for not_affected

    @property
    def fix_available(self) -> bool:
        return bool(self.fixed)

    @property
    def counted(self) -> bool:
        """Counted as a vulnerability of the image (VEX not_affected and friends are listed, not counted)."""
        return self.vex_state not in NOT_COUNTED


@dataclass(frozen=True)
class ImageReport:
    digest: str  # sha256:<64 hex>: the image id or a manifest (RepoDigests) digest the scanner names
    format: str  # trivy-json | grype-json | cyclonedx
    scanner: str
    scanner_version: str
    db_version: str | None  # None: the format does not state it (Trivy JSON, SBOM-only CycloneDX)
    scanned_at: dt.datetime  # naive UTC, like the rest of the history database
    findings: tuple[Finding, ...]
    also_known_as: tuple[str, ...] = ()  # other digests of the same image named by the report (id vs RepoDigests)

    def counts(self) -> dict[str, int]:
        """Counted findings by severity (every severity present, 0 when none)."""
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            if f.counted:
                out[f.severity] += 1
        return out

    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.counted and f.fix_available)

    def summary(self) -> str:
        """One line for change rows: scanner, DB, scan time and counts."""
        c = self.counts()
        counts = " ".join(f"{s[0]}{c[s]}" for s in SEVERITIES)
        db = f" db {self.db_version}" if self.db_version else ""
        return f"{self.scanner} {self.scanner_version}{db} at {self.scanned_at.isoformat()}Z: {counts}"


def normalise_severity(raw: object) -> str:
    """Scanners' severities onto ours; anything unrecognised (negligible, none, info) is UNKNOWN."""
    value = str(raw or "").strip().upper()
    return value if value in SEVERITIES else "UNKNOWN"


def parse_time(raw: object, what: str) -> dt.datetime:
    """RFC 3339 (with Z, an offset or nanoseconds as Go writes them) -> naive UTC."""
    text = str(raw or "").strip()
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not m:
        raise ReportError("malformed", f"{what} {text[:40]!r} is not an RFC 3339 time")
    frac = (m.group(2) or ".0")[:7]
    value = dt.datetime.fromisoformat(m.group(1) + frac + (m.group(3) or "Z").replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def digest_of(raw: object) -> str | None:
    """sha256:<hex> from an image id or a `repo@sha256:...` reference; None if it holds none."""
    text = str(raw or "").strip().lower()
    text = text.rsplit("@", 1)[-1]
    return text if DIGEST.match(text) else None


def digests(*candidates: object) -> tuple[str, ...]:
    """The distinct sha256 digests among image ids and references, in order (None and non-digests skipped)."""
    out: list[str] = []
    for raw in candidates:
        d = digest_of(raw)
        if d and d not in out:
            out.append(d)
    return tuple(out)

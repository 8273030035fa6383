"""One entry point for every accepted format: size limit, JSON, format detection, digest check."""

from __future__ import annotations

import json
from typing import Any

from ..config.recorder import REPORT_MAX_BYTES
from .cyclonedx import parse_cyclonedx
from .model import ImageReport, ReportError, digest_of
from .scanners import parse_grype, parse_trivy

DEFAULT_MAX_BYTES = REPORT_MAX_BYTES


def detect(doc: object) -> str:
    if isinstance(doc, list):
        raise ReportError("unsupported", "a top-level JSON array (Trivy's schema 1?) is not accepted: Trivy JSON 2")
    if not isinstance(doc, dict):
        raise ReportError("unsupported", "the report is not a JSON object")
    if doc.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    if "SchemaVersion" in doc and ("Results" in doc or "ArtifactName" in doc):
        return "trivy-json"
    if "matches" in doc and "descriptor" in doc:
        return "grype-json"
    raise ReportError("unsupported", "not a Trivy JSON, Grype JSON or CycloneDX report")


def parse_report(raw: bytes, expected_digest: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> ImageReport:
    """Parse and validate one report; raises ReportError (nothing else) for anything we refuse."""
    if len(raw) > max_bytes:
        raise ReportError("oversized", f"report of {len(raw)} bytes exceeds the limit of {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
        doc: Any = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ReportError("malformed", f"report is not UTF-8 JSON: {str(exc)[:120]}") from None
    kind = detect(doc)
    if kind == "cyclonedx":
        report = parse_cyclonedx(doc, text)
    elif kind == "trivy-json":
        report = parse_trivy(doc)
    else:
        report = parse_grype(doc)
    if expected_digest is not None:
        want = digest_of(expected_digest)
        if want is None:
            raise ReportError("bad-digest", f"{expected_digest[:80]!r} is not a sha256 image digest")
        if want not in (report.digest, *report.also_known_as):
            raise ReportError("digest-mismatch", f"the report is for {report.digest}, not for {want}")
    return report

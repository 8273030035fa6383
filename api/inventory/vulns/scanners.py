"""Trivy JSON and Grype JSON: validated against the schema of the fields we rely on, then mapped to the model."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .model import Finding, ImageReport, ReportError, digests, normalise_severity, parse_time

SCHEMAS = Path(__file__).parent / "schemas"


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


def validate(doc: object, name: str, what: str) -> None:
    error = best_match(_validator(name).iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ReportError("malformed", f"not a valid {what} report at {where}: {error.message[:200]}")


def _require_digest(named: tuple[str, ...], what: str) -> tuple[str, tuple[str, ...]]:
    if not named:
        raise ReportError("no-digest", f"the {what} report names no image digest (scan an image, not a directory)")
    return named[0], named[1:]


def parse_trivy(doc: dict[str, Any]) -> ImageReport:
    validate(doc, "trivy", "Trivy JSON")
    meta = doc["Metadata"]
    digest, aka = _require_digest(digests(meta.get("ImageID"), *(meta.get("RepoDigests") or [])), "Trivy JSON")
    findings = []
    for result in doc.get("Results") or []:
        for v in result.get("Vulnerabilities") or []:
            findings.append(
                Finding(
                    v["VulnerabilityID"],
                    v["PkgName"],
                    v["InstalledVersion"],
                    v.get("FixedVersion") or None,
                    normalise_severity(v["Severity"]),
                )
            )
    return ImageReport(
        digest=digest,
        format="trivy-json",
        scanner="trivy",
        scanner_version=str((doc.get("Trivy") or {}).get("Version") or "unknown"),
        db_version=None,
        scanned_at=parse_time(doc["CreatedAt"], "CreatedAt"),
        findings=tuple(findings),
        also_known_as=aka,
    )


def _grype_db(db: object) -> str | None:
    """Grype v6 writes db.status {schemaVersion, built}; older releases db {schemaVersion, built}."""
    if not isinstance(db, dict):
        return None
    status: dict[str, object] = db["status"] if isinstance(db.get("status"), dict) else db
    schema, built = status.get("schemaVersion"), status.get("built")
    parts = [str(x) for x in (schema, built) if x not in (None, "")]
    return " built ".join(parts) if parts else None


def parse_grype(doc: dict[str, Any]) -> ImageReport:
    validate(doc, "grype", "Grype JSON")
    target = doc["source"]["target"] if isinstance(doc["source"]["target"], dict) else {}
    digest, aka = _require_digest(
        digests(target.get("imageID"), target.get("manifestDigest"), *(target.get("repoDigests") or [])),
        "Grype JSON",
    )
    findings = []
    for m in doc["matches"]:
        v, a = m["vulnerability"], m["artifact"]
        fixed = v["fix"]["versions"] or [] if v["fix"]["state"] == "fixed" else []
        findings.append(
            Finding(v["id"], a["name"], a["version"], ", ".join(fixed) or None, normalise_severity(v.get("severity")))
        )
    descriptor = doc["descriptor"]
    return ImageReport(
        digest=digest,
        format="grype-json",
        scanner=descriptor["name"],
        scanner_version=descriptor["version"],
        db_version=_grype_db(descriptor.get("db")),
        scanned_at=parse_time(descriptor["timestamp"], "descriptor.timestamp"),
        findings=tuple(findings),
        also_known_as=aka,
    )

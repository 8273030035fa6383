"""CycloneDX JSON (SBOM with vulnerabilities, VEX with analysis): schema-validated and read with
cyclonedx-python-lib. 1.5 and 1.6 as the issue asks, and 1.7, which Trivy 0.76 writes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from cyclonedx.exception import CycloneDxException
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
from cyclonedx.model.vulnerability import Vulnerability
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from .model import Finding, ImageReport, ReportError, digests, normalise_severity

SPEC_VERSIONS = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}
_SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_FIX_IN_TEXT = re.compile(r"\bversions? ([^\s,;]+)")


@cache
def _validator(spec: str) -> JsonStrictValidator:
    return JsonStrictValidator(SPEC_VERSIONS[spec])  # compiles its schema once, on first use


def _validate(text: str, spec: str) -> None:
    error = _validator(spec).validate_str(text)
    if error is not None:
        detail = getattr(error.data, "message", str(error))
        path = "/".join(str(p) for p in getattr(error.data, "absolute_path", ())) or "(top level)"
        raise ReportError("malformed", f"not a valid CycloneDX {spec} document at {path}: {str(detail)[:200]}")


def _walk(components: Iterable[Component]) -> Iterator[Component]:
    for c in components:
        yield c
        yield from _walk(c.components)


def _image_digests(subject: Component | None) -> tuple[str, ...]:
    if subject is None:
        return ()
    raw: list[object] = [p.value for p in subject.properties if p.name.endswith((":ImageID", ":RepoDigest"))]
    raw += [subject.purl.version if subject.purl else None, subject.version, subject.bom_ref.value]
    return digests(*raw)


def _scanner(bom: Bom) -> tuple[str, str]:
    tools = bom.metadata.tools
    for tool in [*tools.components, *tools.services, *tools.tools]:
        if tool.name:
            return str(tool.name), str(tool.version or "unknown")
    return "unknown", "unknown"


def _severity(v: Vulnerability) -> str:
    """The rating of the vulnerability's own source if it has one, else the highest rating."""
    own = v.source.name if v.source else None
    ratings = [
        (r.source.name if r.source else None, normalise_severity(r.severity.value if r.severity else ""))
        for r in v.ratings
    ]
    for source, sev in ratings:
        if own and source == own:
            return sev
    return min((sev for _s, sev in ratings), key=_SEVERITY_ORDER.index, default="UNKNOWN")


def _findings(bom: Bom) -> Iterator[Finding]:
    by_ref = {c.bom_ref.value: c for c in _walk(bom.components) if c.bom_ref.value}
    for v in bom.vulnerabilities:
        analysis = v.analysis
        state = analysis.state.value if analysis and analysis.state else None
        justification = None
        if analysis:
            parts = [analysis.justification.value if analysis.justification else None, analysis.detail]
            justification = ": ".join(p for p in parts if p) or None
        fix_text = _FIX_IN_TEXT.search(v.recommendation or "")
        for target in v.affects:
            comp = by_ref.get(target.ref)
            affected = [r.version for r in target.versions if r.status != ImpactAnalysisAffectedStatus.UNAFFECTED]
            unaffected = [r.version for r in target.versions if r.status == ImpactAnalysisAffectedStatus.UNAFFECTED]
            fixed = next((x for x in unaffected if x), None) or (fix_text.group(1) if fix_text else None)
            yield Finding(
                str(v.id or "unknown")[:128],
                (comp.name if comp else target.ref)[:256],
                ((comp.version if comp else None) or next((x for x in affected if x), "") or "")[:256],
                fixed[:256] if fixed else None,
                _severity(v),
                state,
                str(justification)[:512] if justification else None,
            )


def parse_cyclonedx(doc: dict[str, Any], text: str) -> ImageReport:
    spec = str(doc.get("specVersion", ""))
    if spec not in SPEC_VERSIONS:
        raise ReportError("unsupported", f"CycloneDX {spec or '(no specVersion)'} is not accepted (1.5, 1.6 or 1.7)")
    _validate(text, spec)
    try:
        bom = Bom.from_json(doc)  # type: ignore[attr-defined]
    except (CycloneDxException, ValueError, TypeError, KeyError) as exc:
        raise ReportError("malformed", f"CycloneDX {spec} document not readable: {type(exc).__name__}") from None
    named = _image_digests(bom.metadata.component)
    if not named:
        raise ReportError("no-digest", "the CycloneDX document's metadata.component names no image digest")
    if not (doc.get("metadata") or {}).get("timestamp"):  # the library would default it to now
        raise ReportError("malformed", "the CycloneDX document has no metadata.timestamp (needed to order reports)")
    scanner, version = _scanner(bom)
    when = bom.metadata.timestamp
    scanned_at = when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when
    return ImageReport(
        digest=named[0],
        format=f"cyclonedx-{spec}",
        scanner=scanner,
        scanner_version=version,
        db_version=None,
        scanned_at=scanned_at,
        findings=tuple(_findings(bom)),
        also_known_as=named[1:],
    )

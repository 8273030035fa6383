"""The in-toto Statement of one evidence snapshot (https://in-toto.io/Statement/v1).

Subjects are the distinct image digests that were running (the thing the statement is about); the predicate
(``PREDICATE_TYPE``) lists the containers, findings, waivers in force, the catalog digest and report digests. The
payload is canonical JSON (sorted keys, no spaces), so equal evidence is byte-equal and its digest is stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..history.chain import Head
from ..posture.catalog import Rule
from ..posture.report import PostureReport
from ..posture.waivers import Waiver

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://container-inventory.dev/evidence/snapshot/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


def image_digest(image_id: str) -> str | None:
    """The hex sha256 of an engine's image reference (Docker ``sha256:…``, Kubernetes
    ``docker-pullable://repo@sha256:…`` or ``repo@sha256:…``), or None when the engine gave no digest."""
    found = _DIGEST.search(image_id or "")
    return found.group(1) if found else None


def canonical(doc: Any) -> bytes:
    """The one serialisation used for payloads and digests."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def catalog_digest(rules: Iterable[Rule]) -> str:
    """sha256 of the rules as the API describes them: any change of id, severity, text or reference changes it."""
    return hashlib.sha256(canonical([r.describe() for r in sorted(rules, key=lambda r: r.id)])).hexdigest()


@dataclass(frozen=True)
class ReportDigest:
    """A vulnerability report that took part: the image it is about and the sha256 of the stored report."""

    image_digest: str
    scanner: str
    sha256: str


def build_statement(
    report: PostureReport,
    image_ids: Mapping[str, str],
    waivers: Iterable[Waiver],
    generated_at: datetime,
    reports: Iterable[ReportDigest] = (),
    history: Head | None = None,
) -> dict[str, Any]:
    """The Statement for ``report``; ``image_ids`` maps each container id to its engine image id; ``history`` is
    the change table's chain head at the time (signing it pins every recorded change before it)."""
    containers: list[dict[str, Any]] = []
    subjects: dict[str, str] = {}
    for c in sorted(report.containers, key=lambda c: (c.source, c.id)):
        digest = image_digest(image_ids.get(c.id, ""))
        if digest:
            subjects.setdefault(digest, c.image)
        containers.append(
            {
                "source": c.source,
                "id": c.id,
                "name": c.name,
                "namespace": c.namespace,
                "image": c.image,
                "image_digest": f"sha256:{digest}" if digest else None,
                "state": c.state,
                "findings": sorted(
                    (
                        {
                            "fingerprint": f.fingerprint,
                            "rule": f.rule,
                            "severity": f.severity,
                            "waived": f.waived,
                        }
                        for f in c.findings
                    ),
                    key=lambda f: (f["rule"], f["fingerprint"]),
                ),
            }
        )
    predicate = {
        "generated_at": generated_at.isoformat(),
        "partial": report.partial,
        "stale": report.stale,
        "catalog": {"sha256": catalog_digest(report.rules), "rules": len(report.rules)},
        "containers": containers,
        "waivers": sorted((w.to_dict() for w in waivers), key=canonical),
        "history": {"head_id": history.id, "head_hash": history.hash} if history else None,
        "reports": sorted(
            ({"image_digest": r.image_digest, "scanner": r.scanner, "sha256": r.sha256} for r in reports),
            key=lambda r: (r["image_digest"], r["scanner"]),
        ),
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": d}} for d, name in sorted(subjects.items())],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }

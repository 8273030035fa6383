"""inventory-scan verify-evidence: check a signed evidence snapshot (DSSE envelope) against a public key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..evidence.envelope import EvidenceError, load_public_key, verify


def verify_file(path: str, public_keys: list[str]) -> int:
    """0 and one summary line when the envelope verifies; 1 and the failed check when it does not; 2 bad input."""
    try:
        keys = [load_public_key(k) for k in public_keys]
        doc = json.loads(Path(path).read_bytes())
    except EvidenceError as exc:
        print(f"inventory-scan: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"inventory-scan: evidence {path}: cannot read it ({exc.strerror})", file=sys.stderr)
        return 2
    except ValueError:
        print(f"inventory-scan: evidence {path}: not JSON", file=sys.stderr)
        return 2
    try:
        verified = verify(doc, keys)
    except EvidenceError as exc:
        print(f"inventory-scan: evidence {path} does not verify: {exc}", file=sys.stderr)
        return 1
    p = verified.statement["predicate"]
    print(
        f"evidence {path}: verified (key {', '.join(k[:12] for k in verified.keyids)}); generated {p['generated_at']}, "
        f"{verified.containers} containers, {len(verified.statement['subject'])} images, "
        f"payload sha256 {verified.payload_sha256}"
    )
    return 0

"""Backup manifests: what, when, source version, sizes and SHA-256 of every artifact.

The manifest is written last (atomically), so a backup without one is partial by definition.
Every restore calls `verify()` before it touches anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from invops import __version__
from invops.errors import VerifyError

MANIFEST = "manifest.json"
FORMAT = "invops-backup/1"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def utc_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def write(backup_dir: Path, kind: str, artifacts: list[str], source: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Hash every artifact (paths relative to backup_dir) and write manifest.json atomically."""
    entries = []
    for rel in artifacts:
        path = backup_dir / rel
        entries.append({"path": rel, "size": path.stat().st_size, "sha256": sha256_file(path)})
    doc: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "tool": f"invops {__version__}",
        "source": source,
        "artifacts": entries,
        **extra,
    }
    tmp = backup_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, backup_dir / MANIFEST)
    return doc


def load(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    if not backup_dir.is_dir():
        raise VerifyError(f"backup directory not found: {backup_dir}")
    if not path.is_file():
        raise VerifyError(f"partial or foreign backup: {path} is missing; refusing to restore")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise VerifyError(f"corrupt manifest {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("artifacts"), list):
        raise VerifyError(f"unsupported manifest format in {path} (expected {FORMAT})")
    return doc


def verify(backup_dir: Path, kind: str | None = None) -> dict[str, Any]:
    """Check kind, presence, size and SHA-256 of every artifact. Raises VerifyError on the first problem."""
    doc = load(backup_dir)
    if kind is not None and doc.get("kind") != kind:
        raise VerifyError(f"{backup_dir} holds a {doc.get('kind')!r} backup, not {kind!r}")
    if not doc["artifacts"]:
        raise VerifyError(f"manifest in {backup_dir} lists no artifacts")
    root = backup_dir.resolve()
    for entry in doc["artifacts"]:
        rel = str(entry.get("path", ""))
        path = (backup_dir / rel).resolve()
        if root not in path.parents:
            raise VerifyError(f"manifest artifact escapes the backup directory: {rel!r}")
        if not path.is_file():
            raise VerifyError(f"partial backup: artifact {rel} is missing")
        size = path.stat().st_size
        if size != entry.get("size"):
            raise VerifyError(f"artifact {rel} is {size} bytes, manifest says {entry.get('size')} (truncated?)")
        if sha256_file(path) != entry.get("sha256"):
            raise VerifyError(f"artifact {rel} fails its SHA-256 check (corrupted)")
    return doc

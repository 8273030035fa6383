"""Save exact images (by content digest) with checksums; load them back and verify the digests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from invops import manifest
from invops.errors import OpsError, UsageError, VerifyError
from invops.runner import progress
from invops.volume import _client

KIND = "docker-images"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def save(refs: list[str], out_root: Path, dry_run: bool = False) -> Path:
    target = out_root / f"images-{manifest.utc_stamp()}"
    if dry_run:
        for ref in refs:
            print(f"would save {ref} into {target}")
        return target
    client = _client()
    resolved = []
    for ref in refs:
        try:
            resolved.append((ref, client.images.get(ref)))
        except Exception as exc:
            raise UsageError(f"image not found locally: {ref}") from exc
    target.mkdir(parents=True, exist_ok=False)
    entries, artifacts = [], []
    for ref, image in resolved:
        filename = _SAFE.sub("_", ref) + ".tar"
        progress(f"saving {ref} ({image.id}) -> {filename}")
        with (target / filename).open("wb") as fh:
            for chunk in image.save(named=ref):
                fh.write(chunk)
        artifacts.append(filename)
        entries.append(
            {
                "ref": ref,
                "id": image.id,
                "repo_digests": image.attrs.get("RepoDigests") or [],
                "artifact": filename,
                "created": image.attrs.get("Created"),
                "architecture": image.attrs.get("Architecture"),
            }
        )
    manifest.write(target, KIND, artifacts, {"engine": client.version().get("Version")}, images=entries)
    print(target)
    return target


def verify(backup_dir: Path) -> dict[str, Any]:
    doc = manifest.verify(backup_dir, KIND)
    if not doc.get("images"):
        raise VerifyError(f"manifest in {backup_dir} lists no images")
    progress(f"verified {backup_dir}: {len(doc['images'])} image archives")
    return doc


def load(backup_dir: Path, dry_run: bool = False) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = verify(backup_dir)["images"]
    if dry_run:
        for entry in images:
            print(f"would load {entry['ref']} ({entry['id']}) from {entry['artifact']}")
        return images
    client = _client()
    for entry in images:
        progress(f"loading {entry['artifact']}")
        try:
            with (backup_dir / entry["artifact"]).open("rb") as fh:
                loaded = client.images.load(fh)
        except Exception as exc:
            raise OpsError(f"docker load failed for {entry['artifact']}: {exc}") from exc
        ids = {img.id for img in loaded}
        if entry["id"] not in ids:
            raise VerifyError(f"loaded image id(s) {sorted(ids)} != expected {entry['id']} for {entry['ref']}")
        current = client.images.get(entry["ref"])
        if current.id != entry["id"]:
            raise VerifyError(f"{entry['ref']} now points at {current.id}, expected {entry['id']}")
        progress(f"{entry['ref']} digest verified: {entry['id']}")
    return images

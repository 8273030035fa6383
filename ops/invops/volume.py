"""Docker named volume backup/restore through a throw-away helper container.

The helper runs the local base image (no registry pulls), with no network and only the capabilities
tar needs. The archive keeps numeric owners and modes; the manifest also records a per-file listing
(type, mode, uid, gid, size, SHA-256) that the restore compares against the restored volume.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

from invops import manifest
from invops.errors import OpsError, UsageError, VerifyError
from invops.runner import progress

KIND = "docker-volume"
ARCHIVE = "volume.tar"
DEFAULT_HELPER = os.environ.get("INVOPS_HELPER_IMAGE", "debian:bookworm-slim")


def _client() -> Any:
    import docker  # imported lazily so --help works without the SDK

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        raise OpsError(f"Docker engine not reachable: {exc}", code=4) from exc
    return client


def listing(archive: Path) -> dict[str, dict[str, Any]]:
    """Per-entry metadata and content hash from a tar archive, keyed by normalised path."""
    import hashlib

    out: dict[str, dict[str, Any]] = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            name = member.name.removeprefix("./").rstrip("/")
            if not name:
                continue
            entry: dict[str, Any] = {
                "type": "dir"
                if member.isdir()
                else "file"
                if member.isfile()
                else "symlink"
                if member.issym()
                else "other",
                "mode": oct(member.mode & 0o7777),
                "uid": member.uid,
                "gid": member.gid,
            }
            if member.isfile():
                fh = tar.extractfile(member)
                assert fh is not None  # nosec B101 - narrows the type: isfile() members always have one
                entry["size"] = member.size
                entry["sha256"] = hashlib.sha256(fh.read()).hexdigest()
            elif member.issym():
                entry["target"] = member.linkname
            out[name] = entry
    return out


def _helper(
    client: Any,
    image: str,
    volume: str,
    workdir: Path,
    script: str,
    read_only: bool,
    caps: list[str],
    workdir_mode: str = "rw",
) -> None:
    name = f"invops-helper-{uuid.uuid4().hex[:10]}"
    try:
        client.images.get(image)
    except Exception as exc:
        raise OpsError(
            f"helper image {image} not present locally (set INVOPS_HELPER_IMAGE or run `make base-image`)", code=4
        ) from exc
    container = client.containers.create(
        image,
        ["sh", "-ec", script],
        name=name,
        network_mode="none",
        read_only=True,
        cap_drop=["ALL"],
        cap_add=caps,
        security_opt=["no-new-privileges"],
        volumes={
            volume: {"bind": "/data", "mode": "ro" if read_only else "rw"},
            str(workdir): {"bind": "/backup", "mode": workdir_mode},
        },
        labels={"org.container-inventory.invops": "helper"},
    )
    try:
        container.start()
        result = container.wait(timeout=600)
        if result.get("StatusCode") != 0:
            logs = container.logs().decode(errors="replace").strip().splitlines()
            raise OpsError(f"helper container failed: {logs[-1] if logs else result}")
    finally:
        container.remove(force=True)


def _archive(client: Any, volume: str, workdir: Path, image: str) -> Path:
    # --numeric-owner: uids inside the volume belong to the app images, not to this host's /etc/passwd
    _helper(
        client,
        image,
        volume,
        workdir,
        f"tar --numeric-owner -cpf /backup/{ARCHIVE} -C /data .",
        read_only=True,
        caps=["DAC_READ_SEARCH"],
    )
    return workdir / ARCHIVE


def backup(volume: str, out_root: Path, image: str = DEFAULT_HELPER, dry_run: bool = False) -> Path:
    target = out_root / f"volume-{volume}-{manifest.utc_stamp()}"
    if dry_run:
        print(f"would archive volume {volume} with helper {image} into {target / ARCHIVE}")
        return target
    client = _client()
    try:
        vol = client.volumes.get(volume)
    except Exception as exc:
        raise UsageError(f"volume not found: {volume}") from exc
    target.mkdir(parents=True, exist_ok=False)
    progress(f"archiving volume {volume} -> {target / ARCHIVE}")
    _archive(client, volume, target, image)
    files = listing(target / ARCHIVE)
    progress(f"archived {len(files)} entries, {(target / ARCHIVE).stat().st_size} bytes")
    manifest.write(
        target,
        KIND,
        [ARCHIVE],
        {"volume": volume, "driver": vol.attrs.get("Driver"), "labels": vol.attrs.get("Labels") or {}},
        files=files,
    )
    print(target)
    return target


def verify(backup_dir: Path) -> dict[str, Any]:
    doc = manifest.verify(backup_dir, KIND)
    if listing(backup_dir / ARCHIVE) != doc.get("files"):
        raise VerifyError(f"archive content in {backup_dir} does not match the manifest file listing")
    progress(f"verified {backup_dir}: {len(doc['files'])} entries")
    return doc


def restore(backup_dir: Path, volume: str | None, image: str = DEFAULT_HELPER, dry_run: bool = False) -> str:
    """Restore into a volume that does not exist yet (or is empty), then re-read it and compare."""
    doc = verify(backup_dir)
    name = volume or doc["source"]["volume"]
    if dry_run:
        print(f"would create volume {name} and extract {backup_dir / ARCHIVE} into it, then verify every file")
        return name
    client = _client()
    created = False
    try:
        client.volumes.get(name)
        with tempfile.TemporaryDirectory(prefix="invops-check-") as tmp:
            if listing(_archive(client, name, Path(tmp), image)):
                raise UsageError(f"volume {name} exists and is not empty; restore into a new volume with --to")
    except UsageError:
        raise
    except Exception:  # noqa: BLE001 - NotFound: create it
        client.volumes.create(name, labels=doc["source"].get("labels") or None)
        created = True
    progress(f"extracting {backup_dir.name} into volume {name}")
    try:
        _helper(
            client,
            image,
            name,
            backup_dir.resolve(),
            f"tar --numeric-owner --same-owner -xpf /backup/{ARCHIVE} -C /data",
            read_only=False,
            caps=["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID"],
            workdir_mode="ro",
        )
        with tempfile.TemporaryDirectory(prefix="invops-verify-") as tmp:
            if listing(_archive(client, name, Path(tmp), image)) != doc["files"]:
                raise VerifyError(f"restored volume {name} differs from the backup listing")
    except OpsError:
        if created:
            client.volumes.get(name).remove(force=True)  # ours and incomplete: nothing of value lost
        raise
    progress(f"restored and verified volume {name} ({len(doc['files'])} entries)")
    return name

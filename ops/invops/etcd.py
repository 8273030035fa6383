"""etcd snapshot / verify / restore / prune with TLS client certificates.

etcd 3.4 (Debian bookworm) does snapshots with `etcdctl`; 3.5+ moved status/restore to `etcdutl`,
which is used when present.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invops import manifest
from invops.errors import OpsError, UsageError, VerifyError
from invops.runner import Runner, progress

KIND = "etcd-snapshot"
SNAPSHOT = "snapshot.db"


@dataclass(frozen=True)
class Endpoint:
    url: str
    cacert: Path | None
    cert: Path | None
    key: Path | None

    def args(self) -> list[str]:
        out = ["--endpoints", self.url]
        for flag, value in (("--cacert", self.cacert), ("--cert", self.cert), ("--key", self.key)):
            if value is not None:
                if not value.is_file():
                    raise UsageError(f"{flag} file not found: {value}")
                out += [flag, str(value)]
        return out


def _offline_tool() -> list[str]:
    """Offline snapshot commands: etcdutl on 3.5+, etcdctl on 3.4."""
    return ["etcdutl"] if shutil.which("etcdutl") else ["etcdctl"]


def _env() -> None:
    os.environ.setdefault("ETCDCTL_API", "3")


def status(snapshot: Path, runner: Runner) -> dict[str, Any]:
    """`snapshot status` opens the bolt DB and reports hash/revision/keys; a damaged file fails here."""
    _env()
    proc = runner.run(
        [*_offline_tool(), "snapshot", "status", str(snapshot), "-w", "json"], capture=True, mutating=False
    )
    try:
        status: dict[str, Any] = json.loads(proc.stdout or b"{}")
        return status
    except ValueError as exc:
        raise VerifyError(f"etcd snapshot status returned no JSON for {snapshot}") from exc


def snapshot(ep: Endpoint, out_root: Path, runner: Runner) -> Path:
    _env()
    target = out_root / f"etcd-{manifest.utc_stamp()}"
    if runner.dry_run:
        runner.run(["etcdctl", *ep.args(), "snapshot", "save", str(target / SNAPSHOT)])
        return target
    target.mkdir(parents=True, exist_ok=False)
    progress(f"etcd snapshot save from {ep.url} -> {target / SNAPSHOT}")
    version = ""
    proc = runner.run(["etcdctl", *ep.args(), "endpoint", "status", "-w", "json"], capture=True, check=False)
    if proc.returncode == 0:
        try:
            version = json.loads(proc.stdout)[0]["Status"]["version"]
        except (ValueError, LookupError, TypeError):
            version = ""
    runner.run(["etcdctl", *ep.args(), "snapshot", "save", str(target / SNAPSHOT)], capture=True)
    info = status(target / SNAPSHOT, runner)
    progress(f"snapshot ok: revision {info.get('revision')}, {info.get('totalKey')} keys")
    manifest.write(target, KIND, [SNAPSHOT], {"endpoint": ep.url, "etcd_version": version}, etcd_status=info)
    print(target)
    return target


def verify(backup: Path, runner: Runner) -> dict[str, Any]:
    doc = manifest.verify(backup, KIND)
    info = status(backup / SNAPSHOT, runner)
    expected = doc.get("etcd_status", {}).get("hash")
    if expected is not None and info.get("hash") != expected:
        raise VerifyError(f"etcd snapshot hash {info.get('hash')} != manifest {expected}")
    progress(f"verified {backup}: revision {info.get('revision')}, {info.get('totalKey')} keys")
    return doc


def restore(
    backup: Path, data_dir: Path, name: str, peer_url: str, cluster: str | None, token: str, runner: Runner
) -> None:
    """Verify, restore into a temp sibling of data_dir, then rename: never writes into an existing dir."""
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise UsageError(f"refusing to restore into non-empty {data_dir}: choose a new --data-dir")
    verify(backup, runner)
    _env()
    staging = data_dir.with_name(data_dir.name + ".restoring")
    cmd = [
        *_offline_tool(),
        "snapshot",
        "restore",
        str(backup / SNAPSHOT),
        "--data-dir",
        str(staging),
        "--name",
        name,
        "--initial-advertise-peer-urls",
        peer_url,
        "--initial-cluster",
        cluster or f"{name}={peer_url}",
        "--initial-cluster-token",
        token,
    ]
    if runner.dry_run:
        runner.run(cmd)
        return
    if staging.exists():
        shutil.rmtree(staging)
    progress(f"restoring {backup.name} into {data_dir}")
    try:
        runner.run(cmd, capture=True)
    except OpsError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if data_dir.exists():
        data_dir.rmdir()  # empty (checked above)
    os.replace(staging, data_dir)
    os.chmod(data_dir, 0o700)
    progress(f"restored; start etcd with --data-dir {data_dir} --name {name}")


def list_backups(root: Path) -> list[Path]:
    return sorted((p for p in root.glob("etcd-*") if p.is_dir()), key=lambda p: p.name)


def prune(root: Path, keep: int, runner: Runner) -> list[Path]:
    """Keep the newest `keep` complete snapshots; partial ones (no manifest) older than those go too."""
    if keep < 1:
        raise UsageError("--keep must be at least 1")
    if not root.is_dir():
        raise UsageError(f"backup root not found: {root}")
    backups = list_backups(root)
    complete = [p for p in backups if (p / manifest.MANIFEST).is_file()]
    survivors = set(complete[-keep:])
    oldest_kept = min((p.name for p in survivors), default="")
    doomed = [p for p in backups if p not in survivors and (p in complete or p.name < oldest_kept)]
    for path in doomed:
        if runner.dry_run:
            print(f"would remove {path}")
        else:
            progress(f"removing {path}")
            shutil.rmtree(path)
    return doomed

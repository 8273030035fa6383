"""etcd with TLS for real: write keys, snapshot, wipe, restore into a new data dir, start etcd, read keys back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.ops.conftest import free_port, invops
from tests.support.prereq import tool


@pytest.fixture(scope="module", autouse=True)
def _etcd_tools() -> None:
    for name in ("etcd", "etcdctl", "openssl"):
        tool(name, "etcd-server/etcd-client/openssl: tools/apt-packages.txt")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A throw-away CA, a server cert for 127.0.0.1 and a client cert (real X.509, real TLS)."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=invops-test-ca",
        cwd=d,
    )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN=invops-{name}",
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
            cwd=d,
        )
    return d


class Etcd:
    def __init__(self, pki: Path, data_dir: Path, name: str = "ops-test") -> None:
        self.pki, self.data_dir, self.name = pki, data_dir, name
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.client_port}"
        self.peer_url = f"http://127.0.0.1:{self.peer_port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def tls(self) -> list[str]:
        return [
            "--cacert",
            str(self.pki / "ca.crt"),
            "--cert",
            str(self.pki / "client.crt"),
            "--key",
            str(self.pki / "client.key"),
        ]

    def start(self) -> None:
        log = (self.data_dir.parent / f"{self.data_dir.name}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                "etcd",
                "--name",
                self.name,
                "--data-dir",
                str(self.data_dir),
                "--listen-client-urls",
                self.url,
                "--advertise-client-urls",
                self.url,
                "--listen-peer-urls",
                self.peer_url,
                "--initial-advertise-peer-urls",
                self.peer_url,
                "--initial-cluster",
                f"{self.name}={self.peer_url}",
                "--cert-file",
                str(self.pki / "server.crt"),
                "--key-file",
                str(self.pki / "server.key"),
                "--trusted-ca-file",
                str(self.pki / "ca.crt"),
                "--client-cert-auth",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.ctl("endpoint", "health", check=False).returncode == 0:
                return
            assert self.proc.poll() is None, "etcd exited during start-up"
            time.sleep(0.3)
        raise AssertionError("etcd did not become healthy in 30s")

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["etcdctl", "--endpoints", self.url, *self.tls(), "--dial-timeout=2s", *args],
            capture_output=True,
            text=True,
            check=check,
            env={**os.environ, "ETCDCTL_API": "3"},
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def etcd(pki, tmp_path):
    server = Etcd(pki, tmp_path / "data")
    server.start()
    yield server
    server.stop()


KEYS = {f"/inventory/config/{i}": f"value-{i}-{'x' * i}" for i in range(20)}


def test_plain_connection_is_refused_without_client_cert(etcd):
    """Proves TLS client auth is really on, so the snapshot below really used the client cert. Any failure would not
    do (a wrong flag, a dead server, a timeout fail too): the same request with the client cert must succeed, and the
    server must say it rejected the connection for the missing certificate."""
    base = ["etcdctl", "--endpoints", etcd.url, "--cacert", str(etcd.pki / "ca.crt"), "--dial-timeout=2s"]
    env = {**os.environ, "ETCDCTL_API": "3"}
    with_cert = subprocess.run(
        [*base, "--cert", str(etcd.pki / "client.crt"), "--key", str(etcd.pki / "client.key"), "get", "/x"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert with_cert.returncode == 0, with_cert.stderr  # the control: same server, same CA, same command
    proc = subprocess.run(
        [*base, "--command-timeout=3s", "get", "/x"], capture_output=True, text=True, check=False, env=env
    )
    assert proc.returncode != 0
    etcd_log = (etcd.data_dir.parent / f"{etcd.data_dir.name}.log").read_text(errors="replace")
    assert "client didn't provide a certificate" in etcd_log, etcd_log[-2000:]


def test_snapshot_wipe_restore_read_back(etcd, tmp_path):
    for key, value in KEYS.items():
        etcd.ctl("put", key, value)
    backups = tmp_path / "backups"
    snap = invops("etcd", "snapshot", "--endpoint", etcd.url, *etcd.tls(), "--out", str(backups))
    assert snap.returncode == 0, snap.stderr
    backup = Path(snap.stdout.strip().splitlines()[-1])
    doc = json.loads((backup / "manifest.json").read_text())
    assert doc["kind"] == "etcd-snapshot" and doc["source"]["etcd_version"].startswith("3.")
    assert doc["artifacts"][0]["size"] == (backup / "snapshot.db").stat().st_size
    assert doc["etcd_status"]["totalKey"] >= len(KEYS)
    assert invops("etcd", "verify", str(backup)).returncode == 0

    # disaster: stop and wipe the member
    etcd.stop()
    shutil.rmtree(etcd.data_dir)

    new_dir = tmp_path / "restored"
    restored = Etcd(etcd.pki, new_dir, name="ops-restored")
    res = invops(
        "etcd",
        "restore",
        str(backup),
        "--data-dir",
        str(new_dir),
        "--name",
        restored.name,
        "--initial-advertise-peer-urls",
        restored.peer_url,
    )
    assert res.returncode == 0, res.stderr
    restored.start()
    try:
        for key, value in KEYS.items():
            assert restored.ctl("get", key, "--print-value-only").stdout.strip() == value
    finally:
        restored.stop()


def test_restore_refuses_non_empty_target(etcd, tmp_path):
    etcd.ctl("put", "/k", "v")
    snap = invops("etcd", "snapshot", "--endpoint", etcd.url, *etcd.tls(), "--out", str(tmp_path / "b"))
    backup = Path(snap.stdout.strip().splitlines()[-1])
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep-me").write_text("precious")
    res = invops("etcd", "restore", str(backup), "--data-dir", str(target))
    assert res.returncode == 2
    assert "non-empty" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert (target / "keep-me").read_text() == "precious"


def test_corrupted_and_partial_snapshots_are_refused(etcd, tmp_path):
    etcd.ctl("put", "/k", "v")
    snap = invops("etcd", "snapshot", "--endpoint", etcd.url, *etcd.tls(), "--out", str(tmp_path / "b"))
    backup = Path(snap.stdout.strip().splitlines()[-1])
    db = backup / "snapshot.db"
    data = bytearray(db.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle
    db.write_bytes(bytes(data))
    for cmd in (["etcd", "verify", str(backup)], ["etcd", "restore", str(backup), "--data-dir", str(tmp_path / "new")]):
        res = invops(*cmd)
        assert res.returncode == 3, res.stderr
        assert "SHA-256" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.restoring").exists()

    (backup / "manifest.json").unlink()  # as if the backup job died before finishing
    res = invops("etcd", "restore", str(backup), "--data-dir", str(tmp_path / "new"))
    assert res.returncode == 3 and "partial" in res.stderr


def test_prune_keeps_newest(tmp_path):
    root = tmp_path / "snaps"
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z", "20260104T000000Z"):
        d = root / f"etcd-{stamp}"
        d.mkdir(parents=True)
        (d / "snapshot.db").write_bytes(b"x")
        (d / "manifest.json").write_text("{}")
    (root / "etcd-20260101T120000Z").mkdir()  # partial, older than what we keep
    dry = invops("etcd", "prune", "--root", str(root), "--keep", "2", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("would remove") == 3
    assert len(list(root.iterdir())) == 5
    assert invops("etcd", "prune", "--root", str(root), "--keep", "2").returncode == 0
    assert sorted(p.name for p in root.iterdir()) == ["etcd-20260103T000000Z", "etcd-20260104T000000Z"]

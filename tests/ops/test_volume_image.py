"""Docker volumes and images for real: back up, remove, restore/load, compare every byte, mode and digest."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from tests.ops.conftest import invops

pytestmark = pytest.mark.docker

FILL = r"""
set -e
cd /data
mkdir -p conf secret/deep empty
printf 'listen 8080\n' > conf/app.conf; chmod 0644 conf/app.conf
head -c 300000 /dev/urandom > blob.bin; chmod 0600 blob.bin
printf 'token' > secret/deep/key; chmod 0400 secret/deep/key; chmod 0700 secret secret/deep
printf '#!/bin/sh\necho hi\n' > run.sh; chmod 0755 run.sh
printf 'shared' > group.txt; chmod 0664 group.txt; chown 10001:10001 group.txt
printf 'other' > other.txt; chown 10002:2000 other.txt; chmod 0640 other.txt
chmod 1777 empty; chmod 2750 conf
ln -s conf/app.conf link.conf
touch 'name with spaces.txt'; chmod 0000 'name with spaces.txt'
"""

SNAPSHOT = r"""
cd /data && find . -mindepth 1 | sort | while IFS= read -r p; do
  if [ -f "$p" ] && [ ! -L "$p" ]; then s=$(sha256sum < "$p" | cut -d' ' -f1); else s=-; fi
  printf '%s|%s|%s\n' "$(stat -c '%F|%a|%u|%g' "$p")" "$p" "$s"
done
"""


def _run(client, image: str, volume: str, script: str, name: str) -> str:
    out = client.containers.run(
        image,
        ["sh", "-c", script],
        name=name,
        remove=True,
        network_mode="none",
        volumes={volume: {"bind": "/data", "mode": "rw"}},
    )
    return out.decode()


@pytest.fixture
def volume(docker_client, uid):
    names: list[str] = []

    def make(suffix: str = "") -> str:
        name = f"{uid}{suffix}"
        names.append(name)
        return name

    yield make
    for name in names:
        for vol in docker_client.volumes.list(filters={"name": name}):
            if vol.name == name:
                vol.remove(force=True)


def test_volume_backup_remove_restore_identical(docker_client, base_image, volume, tmp_path, uid):
    name = volume()
    docker_client.volumes.create(name)
    _run(docker_client, base_image, name, FILL, f"{uid}-fill")
    before = _run(docker_client, base_image, name, SNAPSHOT, f"{uid}-snap1")
    for expected in (
        "|640|10002|2000|./other.txt|",
        "|400|0|0|./secret/deep/key|",
        "|1777|0|0|./empty|",
        "|0|0|0|./name with spaces.txt|",
        "symbolic link|777|0|0|./link.conf|",
    ):
        assert expected in before  # the fill really varied modes/owners

    res = invops("volume", "backup", name, "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    backup = Path(res.stdout.strip().splitlines()[-1])
    doc = json.loads((backup / "manifest.json").read_text())
    assert doc["kind"] == "docker-volume" and doc["source"]["volume"] == name
    assert doc["files"]["secret/deep/key"]["mode"] == "0o400"
    assert doc["artifacts"][0]["sha256"] == hashlib.sha256((backup / "volume.tar").read_bytes()).hexdigest()

    verified = invops("volume", "verify", str(backup))
    assert verified.returncode == 0 and f"{len(doc['files'])} entries" in verified.stderr

    docker_client.volumes.get(name).remove()
    res = invops("volume", "restore", str(backup))
    assert res.returncode == 0, res.stderr
    after = _run(docker_client, base_image, name, SNAPSHOT, f"{uid}-snap2")
    assert after == before  # every path, type, mode, owner and checksum

    # restoring again over the now non-empty volume is refused and leaves it alone
    res = invops("volume", "restore", str(backup))
    assert res.returncode == 2 and "not empty" in res.stderr
    assert _run(docker_client, base_image, name, SNAPSHOT, f"{uid}-snap3") == before

    # the runbook's form: restore into a NEW volume next to the original (--to)
    copy = volume("-restored")
    res = invops("volume", "restore", str(backup), "--to", copy)
    assert res.returncode == 0, res.stderr
    assert _run(docker_client, base_image, copy, SNAPSHOT, f"{uid}-snap4") == before


def test_volume_corrupted_backup_refused_nothing_created(docker_client, base_image, volume, tmp_path, uid):
    name = volume()
    docker_client.volumes.create(name)
    _run(docker_client, base_image, name, "echo data > /data/f", f"{uid}-fill")
    res = invops("volume", "backup", name, "--out", str(tmp_path))
    backup = Path(res.stdout.strip().splitlines()[-1])
    archive = backup / "volume.tar"
    archive.write_bytes(archive.read_bytes()[:-1024])  # truncated copy
    assert invops("volume", "verify", str(backup)).returncode == 3
    target = volume("-new")
    res = invops("volume", "restore", str(backup), "--to", target)
    assert res.returncode == 3 and "truncated" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert target not in {v.name for v in docker_client.volumes.list()}

    # a consistent archive whose content differs from the listing (tampered, re-hashed) is refused too
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("f")
        info.size = 0
        tar.addfile(info)
    doc = json.loads((backup / "manifest.json").read_text())
    doc["artifacts"][0].update(size=archive.stat().st_size, sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    (backup / "manifest.json").write_text(json.dumps(doc))
    res = invops("volume", "restore", str(backup), "--to", target)
    assert res.returncode == 3 and "listing" in res.stderr


def test_volume_missing_is_one_line_usage_error(docker_client, tmp_path, uid):
    res = invops("volume", "backup", f"{uid}-absent", "--out", str(tmp_path))
    assert res.returncode == 2 and res.stderr.strip() == f"invops: error: volume not found: {uid}-absent"


@pytest.fixture
def test_image(docker_client, base_image, uid, tmp_path):
    ref = f"{uid}:v1"
    (tmp_path / "Dockerfile").write_text(
        f'FROM {base_image}\nRUN echo {uid} > /marker && chmod 0640 /marker\nUSER 10001\nCMD ["cat", "/marker"]\n'
    )
    image, _ = docker_client.images.build(path=str(tmp_path), tag=ref, rm=True, pull=False)
    yield ref, image.id
    for img in docker_client.images.list(name=uid):
        docker_client.images.remove(img.id, force=True)


def test_image_save_remove_load_digest(docker_client, test_image, tmp_path):
    ref, image_id = test_image
    out = tmp_path / "images"
    res = invops("image", "save", ref, "--out", str(out))
    assert res.returncode == 0, res.stderr
    backup = Path(res.stdout.strip().splitlines()[-1])
    doc = json.loads((backup / "manifest.json").read_text())
    assert doc["images"][0]["id"] == image_id and doc["images"][0]["ref"] == ref

    docker_client.images.remove(image_id, force=True)
    assert not docker_client.images.list(name=ref.split(":")[0])
    # the runbook runs --dry-run first: it verifies and loads nothing
    dry = invops("image", "load", str(backup), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not docker_client.images.list(name=ref.split(":")[0])
    res = invops("image", "load", str(backup))
    assert res.returncode == 0, res.stderr
    assert docker_client.images.get(ref).id == image_id
    assert "digest verified" in res.stderr


def test_image_load_refuses_corrupt_archive(docker_client, test_image, tmp_path):
    ref, image_id = test_image
    res = invops("image", "save", ref, "--out", str(tmp_path))
    backup = Path(res.stdout.strip().splitlines()[-1])
    tar = next(backup.glob("*.tar"))
    data = bytearray(tar.read_bytes())
    data[2000] ^= 0x01
    tar.write_bytes(bytes(data))
    docker_client.images.remove(image_id, force=True)
    res = invops("image", "load", str(backup))
    assert res.returncode == 3 and "SHA-256" in res.stderr
    assert not docker_client.images.list(name=ref.split(":")[0])  # nothing was loaded

"""Image hygiene: numeric non-root users, HEALTHCHECK, OCI labels, nothing left from the build, an honest package
database in the flattened flask-api image."""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
import pytest

from tests.support.stack import image_tag

IMAGES = {"flask-api": "10001:10001", "nginx-proxy": "10002:10002", "socket-proxy": "10003:10003"}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_metadata(client: docker.DockerClient, name: str) -> None:
    image = client.images.get(f"{name}:{image_tag()}")
    config = image.attrs["Config"]
    assert config["User"] == IMAGES[name]
    assert config["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    labels = config["Labels"]
    for key in ("version", "revision", "created", "source", "title"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.title"] == name


def bash_in(client: docker.DockerClient, image: str, script: str) -> str:
    """Output of ``script`` run by bash in a throwaway container of our ``image`` (no network)."""
    out = client.containers.run(
        f"{image}:{image_tag()}", ["bash", "-c", script], entrypoint=[], remove=True, network_disabled=True
    )
    return out.decode()


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_no_build_tools_caches_or_ca_secret(client: docker.DockerClient, name: str) -> None:
    script = (
        "for t in gcc cc make pip pip3 git curl wget; do command -v $t && echo FOUND-$t; done; "
        "ls /root/.cache /var/lib/apt/lists/*_Packages 2>/dev/null && echo FOUND-cache; "
        "ls /run/secrets 2>/dev/null && echo FOUND-secret; "
        "find / -xdev -name 'pip' -path '*bin*' 2>/dev/null | grep -q . && echo FOUND-pip-bin; echo done"
    )
    out = bash_in(client, name, script)
    assert out.strip().endswith("done") and "FOUND" not in out, out


def test_flask_api_has_its_dependencies_and_the_kubernetes_client(client: docker.DockerClient) -> None:
    out = client.containers.run(
        f"flask-api:{image_tag()}",
        ["python3", "-c", "import inventory.app, kubernetes.client, kubernetes.watch, kubernetes.config; print('ok')"],
        remove=True,
        network_disabled=True,
    ).decode()
    assert out.strip() == "ok"


ROOT = Path(__file__).resolve().parents[2]
LOCK_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.M)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_flask_api_python_packages_are_its_lock(client: docker.DockerClient) -> None:
    """The image holds exactly api/requirements.txt (pinned versions), minus what api/requirements-dropped.txt
    names, plus the API package itself: no installer, no stray or newer package."""
    lock = {normalize(n): v for n, v in LOCK_PIN.findall((ROOT / "api" / "requirements.txt").read_text())}
    dropped_text = (ROOT / "api" / "requirements-dropped.txt").read_text()
    dropped = {normalize(line.strip()) for line in dropped_text.splitlines() if line.strip() and line[0] != "#"}
    assert dropped <= set(lock), dropped - set(lock)
    probe = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = client.containers.run(
        f"flask-api:{image_tag()}", ["python3", "-c", probe], remove=True, network_disabled=True
    ).decode()
    found = {normalize(name): version for name, version in json.loads(out).items()}
    assert found.pop("container-inventory-api", None), "the API package itself is installed"
    assert found == {name: version for name, version in lock.items() if name not in dropped}


# What api/Dockerfile purges with dpkg, with a file each package shipped: the package must be gone from the
# dpkg database (what trivy and the SBOM read) and its files from the image.
PURGED = {
    "apt": "/usr/bin/apt-get",
    "libapt-pkg6.0": "/usr/lib/x86_64-linux-gnu/libapt-pkg.so.6.0",
    "gpgv": "/usr/bin/gpgv",
    "debian-archive-keyring": "/usr/share/keyrings/debian-archive-keyring.gpg",
    "perl-base": "/usr/bin/perl",
    "debconf": "/usr/bin/debconf",
    "adduser": "/usr/sbin/adduser",
    "passwd": "/usr/sbin/useradd",
    "libsepol2": "/usr/lib/x86_64-linux-gnu/libsepol.so.2",
    "e2fsprogs": "/usr/sbin/e2fsck",
}

# Every file a package that stays installed lists must be in the image, except what the Dockerfile names as
# removed from a kept package: documentation, and the bytecode-only standard library and glibc's iconv modules.
PACKAGE_FILES_PROBE = r"""
import glob, json, os, re
status = open("/var/lib/dpkg/status").read()
installed = sorted(re.findall(r"^Package: (\S+)\n(?:[^\n]+\n)*?Status: install ok installed$", status, re.M))
removed_dirs = ("lib2to3", "pydoc_data", "idlelib", "tkinter", "turtledemo", "ensurepip", "distutils", "test")
allowed = tuple("/usr/share/" + d for d in ("doc", "man", "info", "locale", "lintian")) + (
    "/usr/lib/x86_64-linux-gnu/gconv",) + tuple("/usr/lib/python3.11/" + d for d in removed_dirs)
missing = {}
for lst in glob.glob("/var/lib/dpkg/info/*.list"):
    pkg = os.path.basename(lst)[: -len(".list")]
    for path in open(lst).read().splitlines():
        if not path or path == "/." or os.path.lexists(path):
            continue
        if path.startswith(allowed) or (path.startswith("/usr/lib/python3.11/") and path.endswith(".py")):
            continue
        missing.setdefault(pkg, []).append(path)
unlicensed = [p for p in installed if not os.path.exists(f"/usr/share/doc/{p.split(':')[0]}/copyright")]
print(json.dumps({"installed": installed, "missing": missing, "unlicensed": unlicensed}))
"""


def test_flask_api_package_database_matches_its_files(client: docker.DockerClient) -> None:
    out = client.containers.run(
        f"flask-api:{image_tag()}", ["python3", "-c", PACKAGE_FILES_PROBE], remove=True, network_disabled=True
    ).decode()
    result = json.loads(out)
    installed = {name.split(":")[0] for name in result["installed"]}
    assert {"python3", "libpq5", "libc6", "bash", "dash", "coreutils", "tzdata", "dpkg"} <= installed
    assert not installed & set(PURGED), installed & set(PURGED)
    assert result["missing"] == {}
    # Debian copyright files stay (trivy reads the SBOM's licenses from them). These four packages' doc
    # directories are symlinks to another package's, which the slim base's dpkg path-exclude already drops.
    assert set(result["unlicensed"]) <= {
        "libgcc-s1",
        "libncursesw6",
        "libpython3.11-stdlib",
        "libstdc++6",
    }, result["unlicensed"]


def test_flask_api_purged_files_are_gone_and_every_library_resolves(client: docker.DockerClient) -> None:
    """No purged file is left behind, and no ELF object lost a library it links (libpq5 and psycopg included)."""
    script = (
        f"for f in {' '.join(PURGED.values())}; do [ -e $f ] && echo LEFT-$f; done; "
        "find /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /usr/lib/python3.11 /opt/venv -type f "
        "\\( -name '*.so*' -o -perm -u+x \\) -print0 | xargs -0 -n 50 ldd 2>/dev/null | grep -e '^/' -e 'not found' "
        "| grep -B1 'not found'; "
        "python3 -c 'import psycopg; print(\"libpq\", psycopg.pq.__impl__, psycopg.pq.version())'"
    )
    out = bash_in(client, "flask-api", script)
    assert "LEFT-" not in out and "not found" not in out, out
    assert re.fullmatch(r"libpq python 15\d{4}", out.strip()), out

"""Extra real container engines for the fleet tests: a second dockerd and a Podman API service.

``SecondDockerd`` runs a separate Docker engine next to the host's, sharing nothing with it: its own
unix socket, data root, exec root (with its own containerd), pidfile, and its own bridge, created
first (``--bridge <ours> --iptables=false``). Never ``--bridge none``: that deletes the host's docker0.
It can be stopped (SIGTERM), frozen (SIGSTOP: a *slow* engine that accepts connections and never
answers), resumed and restarted on the same data root, and it removes everything it created.

``PodmanService`` is ``podman system service`` on a socket of its own. Podman cannot start containers
in this sandbox (runc may not set rlimits) but lists and inspects created ones like an engine would.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import docker

from tests.support.stack import docker_bin

BASE_IMAGE = "debian:bookworm-slim"


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.213.0.0/16 that no route on this host uses yet."""
    routes = _run("ip", "-4", "route", "show").stdout
    used = []
    for line in routes.splitlines():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(line.split()[0], strict=False))
    for third in range(int(uuid.uuid4().int % 200) + 20, 250):
        net = ipaddress.ip_network(f"10.213.{third}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise RuntimeError("no free 10.213.x.0/24 subnet for the test bridge")


def load_image(client: docker.DockerClient, image: str = BASE_IMAGE) -> None:
    """Copy an image from the host engine: ``docker save | DOCKER_HOST=... docker load`` (no registry here)."""
    save = subprocess.Popen([docker_bin(), "save", image], stdout=subprocess.PIPE)
    assert save.stdout is not None
    client.images.load(save.stdout.read())
    if save.wait() != 0:
        raise RuntimeError(f"docker save {image} failed")


class SecondDockerd:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        # Short paths: containerd's sockets live under the exec root (unix socket paths max 108 bytes).
        self.root = Path(tempfile.mkdtemp(prefix=f"invd{tag}-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.bridge = f"invbr{tag}"
        self.subnet = _free_subnet()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = self.root / "dockerd.log"

    # -- lifecycle -----------------------------------------------------------------------------------------
    def _create_bridge(self) -> None:
        gateway = next(self.subnet.hosts())
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")

    def start(self, timeout: float = 60) -> SecondDockerd:
        if not (Path(f"/sys/class/net/{self.bridge}").exists()):
            self._create_bridge()
        cmd = [
            shutil.which("dockerd") or "/usr/sbin/dockerd",
            "-H", self.url,
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "docker.pid"),
            "--bridge", self.bridge,
            "--iptables=false",
            # Containers outlive a daemon stop/restart (what an engine upgrade looks like) and a stop is fast.
            "--live-restore",
            "--log-level", "warn",
        ]  # fmt: skip
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(docker.errors.DockerException, OSError):
                if self.client(timeout=2).ping():
                    return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"second dockerd did not start:\n{self._log.read_text()[-3000:]}")
            time.sleep(0.2)

    def client(self, timeout: float = 10) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM and wait: the engine is down (connection refused / socket gone)."""
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the socket still accepts connections, nothing ever answers (a slow engine)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def cleanup(self) -> None:
        """Remove every container, the engine, its bridge and its directories."""
        if self.proc is None or self.proc.poll() is not None:
            with contextlib.suppress(RuntimeError):
                self.start()  # live-restored containers can only be removed through their engine
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            with contextlib.suppress(docker.errors.DockerException, OSError):
                client = self.client(timeout=30)
                for c in client.containers.list(all=True):
                    c.remove(force=True)
        self.stop()
        # Anything still mounted below our root (overlay, shm, netns) goes before the directory does.
        mounts = _run("findmnt", "-rn", "-o", "TARGET", check=False).stdout.splitlines()
        for target in sorted((m for m in mounts if m.startswith(str(self.root))), key=len, reverse=True):
            _run("umount", "-l", target, check=False)
        _run("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SecondDockerd:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class PodmanService:
    """``podman system service`` on its own socket; creates (never starts) containers in Podman's store."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="invpod-", dir="/tmp"))
        self.socket = self.root / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.created: list[str] = []

    def start(self, timeout: float = 30) -> PodmanService:
        self.proc = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("podman system service did not start")
            time.sleep(0.1)
        return self

    def share_with_group(self, gid: int) -> None:
        """The rootful API socket is 0600 root: let one group (a socket proxy's group_add) use it."""
        os.chown(self.socket, 0, gid)
        os.chmod(self.socket, 0o660)

    def ensure_image(self, image: str = BASE_IMAGE) -> str:
        ref = f"localhost/{image}"
        if _run("podman", "image", "exists", ref, check=False).returncode != 0:
            save = subprocess.Popen([docker_bin(), "save", image], stdout=subprocess.PIPE)
            subprocess.run(["podman", "load", "-q"], stdin=save.stdout, check=True, capture_output=True)
            save.wait()
        return ref

    def create(self, name: str, *args: str) -> str:
        """``podman create`` (containers cannot start here); returns the full id."""
        out = _run("podman", "create", "--name", name, *args, self.ensure_image(), "sleep", "300").stdout
        self.created.append(name)
        return out.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self) -> None:
        for name in self.created:
            _run("podman", "rm", "-f", name, check=False)
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PodmanService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

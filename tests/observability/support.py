"""Helpers for the observability suite: free ports, real processes, a recording HTTP server.

Everything listens on 127.0.0.1 only; every process the suite starts is stopped by its
context manager, also when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "alerts" / "inventory-rules.yaml"
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"


def binary(name: str) -> str:
    """Path of a real binary from the Debian packages in tools/apt-packages.txt."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: install tools/apt-packages.txt (scripts/install-deps.sh)")
    return path


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_json(url: str, payload: Any | None = None, timeout: float = 5.0) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


@contextlib.contextmanager
def process(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a real process in its own process group; stop the whole group afterwards."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def wait_http_ok(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            return http_get(url, timeout=2)[0] == 200
        except OSError:
            return False

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


class Prometheus:
    """A real Prometheus server (Debian package) on 127.0.0.1:<free port> with its own tmp dir."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        import yaml

        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = workdir / "prometheus.log"
        self.argv = [
            binary("prometheus"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
            "--web.enable-lifecycle",
        ]

    @contextlib.contextmanager
    def run(self) -> Iterator[Prometheus]:
        with process(self.argv, self.log_path, cwd=self.workdir) as proc:
            wait_http_ok(f"{self.url}/-/ready", proc, self.log_path)
            yield self

    def query(self, expr: str) -> dict[str, Any]:
        """Instant query; returns the API's ``data`` or raises with Prometheus' error message."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = http_get(url)
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise ValueError(f"{doc.get('errorType')}: {doc.get('error')}")
        return doc["data"]

    def scalar(self, expr: str) -> float | None:
        """Single value of an expression returning one sample (None when empty)."""
        result = self.query(expr)["result"]
        if not result:
            return None
        return float(result[0]["value"][1])


class Recorder:
    """A tiny HTTP server on 127.0.0.1 that records every POST (path, JSON body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                with recorder._lock:
                    recorder.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Recorder:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [body for p, body in self.requests if path is None or p == path]


def alertmanager_config_for_test(workdir: Path, receiver_url: str) -> Path:
    """The REAL alertmanager.yml, with its secret files pointing at the test's receiver.

    The receiver URL files are written into ``workdir`` (as the Kubernetes Secret would be
    mounted) and PagerDuty's endpoint is redirected to the local recorder, so nothing leaves
    127.0.0.1.
    """
    import yaml

    secrets = workdir / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "slack-oncall-url").write_text(f"{receiver_url}/slack/oncall")
    (secrets / "slack-team-url").write_text(f"{receiver_url}/slack/team")
    (secrets / "pagerduty-routing-key").write_text("test-routing-key-not-a-secret")
    text = ALERTMANAGER_CONFIG.read_text().replace(
        "/etc/alertmanager/secrets/alertmanager-inventory-receivers", str(secrets)
    )
    config = yaml.safe_load(text)
    config["global"]["pagerduty_url"] = f"{receiver_url}/pagerduty"
    config["templates"] = [
        t.replace("/etc/alertmanager/config", str(ALERTMANAGER_CONFIG.parent)) for t in config["templates"]
    ]
    # Deliver quickly in tests; the routing tree, receivers and inhibitions stay the real ones.
    for route in [config["route"], *config["route"].get("routes", [])]:
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
    return write_yaml(workdir / "alertmanager.yml", config)


def checkable_alertmanager_config(workdir: Path) -> Path:
    """The real alertmanager.yml with the template glob pointing at the repository copy, so
    ``amtool check-config`` also parses inventory.tmpl (it lives at an absolute path in a pod)."""
    import yaml

    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config["templates"] = [
        t.replace("/etc/alertmanager/config", str(ALERTMANAGER_CONFIG.parent)) for t in config["templates"]
    ]
    return write_yaml(workdir / "alertmanager.yml", config)


def write_yaml(path: Path, doc: Any) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Alertmanager:
    """A real Alertmanager (Debian package) on 127.0.0.1:<free port>, clustering disabled."""

    def __init__(self, workdir: Path, config_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "alertmanager.log"
        self.argv = [
            binary("prometheus-alertmanager"),
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]

    @contextlib.contextmanager
    def run(self) -> Iterator[Alertmanager]:
        with process(self.argv, self.log_path) as proc:
            wait_http_ok(f"{self.url}/-/ready", proc, self.log_path)
            yield self

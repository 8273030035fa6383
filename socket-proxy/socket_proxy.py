"""Read-only Docker Engine API proxy for the inventory API.

Why: mounting the engine socket into an internet-facing container is root on the host.
This proxy is the only thing that touches the socket. It forwards exactly the read calls
the API needs and answers 403 to everything else:

    GET|HEAD  [/vX.Y]/_ping
    GET|HEAD  [/vX.Y]/version
    GET|HEAD  [/vX.Y]/containers/json            (query: all, limit, filters)
    GET|HEAD  [/vX.Y]/containers/{id-or-name}/json
    GET       [/vX.Y]/events                     (query: since, until, filters with type=container only)

A prefix rule such as "GET /containers/*" is not enough: it would still expose
/containers/{id}/archive, /export and /logs (file contents and output). Responses are
also filtered: inspect answers carry every container's environment (secrets) and command
line, so those fields are removed before anything reaches the API. The event stream is filtered
line by line: only container lifecycle events pass, rebuilt from an allowlist (exec events carry
the command line in their action, container events carry every label as attributes).

Standard library only; one thread per connection; configured by environment:
    LISTEN_ADDR (0.0.0.0), LISTEN_PORT (2375), DOCKER_SOCKET (/var/run/docker.sock),
    UPSTREAM_TIMEOUT (5 seconds).

Mutual TLS (optional; for an API that reaches the engine over a network it does not trust):
    TLS_CERT_FILE, TLS_KEY_FILE   this proxy's certificate and key (PEM)
    TLS_CA_FILE                   the CA that signs client certificates
All three or none. With TLS on, the listener speaks TLS 1.2+ only and refuses, during the handshake,
every client that does not present a certificate signed by TLS_CA_FILE: nothing is forwarded before
that. The container healthcheck then uses a plain listener on 127.0.0.1:HEALTH_PORT (2374) inside the
container's own network namespace, which answers GET /_ping only.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from events_filter import events_query_ok, filter_event

_VERSION = r"(?:/v\d+\.\d+)?"
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
ROUTES: list[tuple[re.Pattern[str], str, frozenset[str]]] = [
    (re.compile(rf"^{_VERSION}/_ping$"), "ping", frozenset()),
    (re.compile(rf"^{_VERSION}/version$"), "version", frozenset()),
    (re.compile(rf"^{_VERSION}/containers/json$"), "list", frozenset({"all", "limit", "filters", "size", "trunc_cmd"})),
    (re.compile(rf"^{_VERSION}/containers/{_NAME}/json$"), "inspect", frozenset()),
    (re.compile(rf"^{_VERSION}/events$"), "events", frozenset({"since", "until", "filters"})),
]
ALLOWED_METHODS = ("GET", "HEAD")

# Inspect fields that can carry secrets or command lines; removed, never masked in place.
REDACT_CONFIG = ("Env", "Cmd", "Entrypoint", "OnBuild")
REDACT_TOP = ("Args", "Path")


def match_route(method: str, target: str) -> tuple[str | None, str]:
    """Return (route name, reason). Route None means the request is refused."""
    if method not in ALLOWED_METHODS:
        return None, f"method {method} is not allowed"
    parts = urlsplit(target)
    path = parts.path
    if "%" in path or "//" in path or "/../" in path or path.endswith("/.."):
        return None, "encoded or non-canonical path"
    for pattern, name, params in ROUTES:
        if pattern.match(path):
            query = parse_qsl(parts.query, keep_blank_values=True)
            extra = {k for k, _ in query} - params
            if extra:
                return None, f"query parameter {sorted(extra)[0]!r} is not allowed"
            # size=true makes the engine walk every container's filesystem: refuse, it is a DoS lever.
            if any(k == "size" and v.lower() not in ("0", "false") for k, v in query):
                return None, "size=true is not allowed"
            if name == "events":
                return events_query_ok(method, query)
            return name, "ok"
    return None, "endpoint is not allowed"


def redact_inspect(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop environment, command line and other secret-bearing fields from an inspect answer."""
    for key in REDACT_TOP:
        doc.pop(key, None)
    config = doc.get("Config")
    if isinstance(config, dict):
        for key in REDACT_CONFIG:
            config.pop(key, None)
        health = config.get("Healthcheck")
        if isinstance(health, dict) and health.get("Test") not in (None, [], ["NONE"]):
            # Keep "a healthcheck exists" (and its kind), drop the command which may embed secrets.
            health["Test"] = [health["Test"][0], "[redacted]"] if health["Test"] else []
    host = doc.get("HostConfig")
    if isinstance(host, dict):
        log_config = host.get("LogConfig")
        if isinstance(log_config, dict):
            log_config["Config"] = {}  # logging drivers take credentials (splunk-token, ...)
    graph = doc.get("GraphDriver")
    if isinstance(graph, dict):
        graph["Data"] = None
    return doc


def redact_list(items: list[Any]) -> list[Any]:
    for item in items:
        if isinstance(item, dict):
            item.pop("Command", None)  # the full command line
    return items


def filter_body(route: str, body: bytes) -> bytes:
    if route not in ("inspect", "list"):
        return body
    doc = json.loads(body)
    doc = redact_inspect(doc) if route == "inspect" and isinstance(doc, dict) else doc
    doc = redact_list(doc) if route == "list" and isinstance(doc, list) else doc
    return json.dumps(doc, separators=(",", ":")).encode()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def log(**fields: Any) -> None:
    fields = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "logger": "socket-proxy", **fields}
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class ProxyHandler(BaseHTTPRequestHandler):
    server_version = "socket-proxy"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    socket_path = "/var/run/docker.sock"
    upstream_timeout = 5.0

    def log_message(self, format: str, *args: Any) -> None:
        pass  # we log one JSON line per request ourselves

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, reason: str) -> None:
        log(
            level="warning",
            message="refused",
            method=self.command,
            path=urlsplit(self.path).path,
            status=status,
            reason=reason,
        )
        self._send(status, json.dumps({"message": f"socket-proxy: {reason}"}).encode())

    def _handle(self) -> None:
        if self.headers.get("Content-Length", "0") not in ("", "0") or self.headers.get("Transfer-Encoding"):
            self._refuse(403, "request bodies are not allowed")
            return
        route, reason = match_route(self.command, self.path)
        if route is None:
            self._refuse(403, reason)
            return
        if route == "events":
            self._stream_events()
            return
        start = time.perf_counter()
        conn = UnixHTTPConnection(self.socket_path, self.upstream_timeout)
        try:
            conn.request(self.command, self.path, headers={"Host": "docker", "User-Agent": "socket-proxy"})
            resp = conn.getresponse()
            body = resp.read()
            status = resp.status
            content_type = resp.getheader("Content-Type", "application/json")
            passthrough = {
                k: v for k, v in resp.getheaders() if k.lower() in ("api-version", "docker-experimental", "ostype")
            }
        except (OSError, http.client.HTTPException) as exc:
            log(level="error", message="engine unreachable", error=exc.__class__.__name__)
            self._send(502, json.dumps({"message": "socket-proxy: engine unreachable"}).encode())
            return
        finally:
            conn.close()
        if status == 200 and self.command == "GET":
            try:
                body = filter_body(route, body)
            except (ValueError, TypeError):
                self._refuse(502, "engine answered with something that is not JSON")
                return
        log(
            level="info",
            message="forwarded",
            method=self.command,
            route=route,
            status=status,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
        )
        self._send(status, body, content_type, passthrough)

    def _open_events(self) -> tuple[socket.socket, int, bytes, bytes]:
        """Ask the engine with HTTP/1.0 (no chunking: the stream ends when the connection does)."""
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.settimeout(self.upstream_timeout)
        upstream.connect(self.socket_path)
        upstream.sendall(f"GET {self.path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: socket-proxy\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = upstream.recv(4096)
            if not data or len(head) > 65536:
                raise OSError("engine closed the event stream before its headers")
            head += data
        head, rest = head.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        return upstream, status, head, rest

    def _stream_events(self) -> None:
        """Relay the engine's event stream, one filtered line per chunk, until either side goes away."""
        start = time.perf_counter()
        try:
            upstream, status, _, pending = self._open_events()
        except (OSError, ValueError, IndexError) as exc:
            log(level="error", message="engine unreachable", error=exc.__class__.__name__)
            self._send(502, json.dumps({"message": "socket-proxy: engine unreachable"}).encode())
            return
        passed = dropped = 0
        try:
            if status != 200:
                self._refuse(502, f"engine answered {status} to the event stream")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            log(level="info", message="event stream opened", route="events")
            upstream.settimeout(None)
            client = self.connection
            while True:
                lines = pending.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    out = filter_event(line) if line.strip() else None
                    if out is None:
                        dropped += 1 if line.strip() else 0
                        continue
                    passed += 1
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(out), out))
                    self.wfile.flush()
                if len(pending) > 1 << 20:
                    break  # no sane event is this long
                readable, _, _ = select.select([upstream, client], [], [], 60)
                if client in readable:
                    break  # the client closed (or sent something it should not): end the stream
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    pending += data
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass  # the client went away mid-write
        finally:
            upstream.close()
            self.close_connection = True
            log(
                level="info",
                message="event stream closed",
                route="events",
                passed=passed,
                dropped=dropped,
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
            )

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _deny(self) -> None:
        self._refuse(403, f"method {self.command} is not allowed")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _deny


class HealthHandler(ProxyHandler):
    """The plain loopback listener next to a TLS one: GET|HEAD /_ping only, for the container healthcheck."""

    def _handle(self) -> None:
        if urlsplit(self.path).path != "/_ping":
            self._refuse(403, "the health listener answers /_ping only")
            return
        super()._handle()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake runs in the connection's own thread (finish_request), so a slow or
            # silent client cannot stall the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc.__class__.__name__
                log(level="warning", message="tls handshake refused", client=client_address[0], reason=str(reason))
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


HANDSHAKE_TIMEOUT = 5.0
TLS_VARS = ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE")


class ConfigError(ValueError):
    """An environment setting the proxy cannot start with."""


def tls_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    """Server context for mutual TLS: our certificate, and client certificates required from client_ca."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cafile=client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files: {exc.__class__.__name__}: {exc.strerror or exc}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def tls_from_env(env: dict[str, str] | os._Environ[str]) -> ssl.SSLContext | None:
    values = {name: env.get(name, "").strip() for name in TLS_VARS}
    given = [name for name, value in values.items() if value]
    if not given:
        return None
    if len(given) != len(TLS_VARS):
        missing = ", ".join(name for name in TLS_VARS if name not in given)
        raise ConfigError(f"mutual TLS needs {', '.join(TLS_VARS)}; missing {missing}")
    return tls_context(values["TLS_CERT_FILE"], values["TLS_KEY_FILE"], values["TLS_CA_FILE"])


def _serve_in_background(server: Server) -> None:
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()


def main() -> None:
    # Binds all interfaces inside its container; compose/K8s keep it on an internal network.
    addr = os.environ.get("LISTEN_ADDR", "0.0.0.0")  # noqa: S104  # nosec B104
    try:
        port = int(os.environ.get("LISTEN_PORT", "2375"))
        health_port = int(os.environ.get("HEALTH_PORT", "2374"))
        ProxyHandler.upstream_timeout = float(os.environ.get("UPSTREAM_TIMEOUT", "5"))
        tls = tls_from_env(os.environ)
    except ValueError as exc:
        sys.stderr.write(f"socket-proxy: invalid configuration: {exc}\n")
        sys.exit(2)
    ProxyHandler.socket_path = os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock")
    server = Server((addr, port), ProxyHandler)
    server.tls = tls
    health = None
    if tls is not None:
        health = Server(("127.0.0.1", health_port), HealthHandler)
        _serve_in_background(health)
    log(
        level="info",
        message="listening",
        addr=addr,
        port=port,
        socket=ProxyHandler.socket_path,
        tls="mutual" if tls else "off",
        **({"health_port": health_port} if tls else {}),
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if health is not None:
            health.shutdown()


if __name__ == "__main__":
    main()

"""Read-only Docker Engine API proxy for the inventory API.

Why: mounting the engine socket into an internet-facing container is root on the host.
This proxy is the only thing that touches the socket. It forwards exactly the read calls
the API needs and answers 403 to everything else:

    GET|HEAD  [/vX.Y]/_ping
    GET|HEAD  [/vX.Y]/version
    GET|HEAD  [/vX.Y]/containers/json            (query: all, limit, filters)
    GET|HEAD  [/vX.Y]/containers/{id-or-name}/json
    GET|HEAD  [/vX.Y]/containers/{id-or-name}/top  (no query; executable names only, process_rules.py)
    GET|HEAD  [/vX.Y]/exec/{id}/json             (container, privileged, user; never the command)
    GET       [/vX.Y]/events                     (query: since, until, filters with type=container only)

A prefix rule such as "GET /containers/*" is not enough: it would still expose
/containers/{id}/archive, /export and /logs (file contents and output). Responses are
also filtered: inspect answers carry every container's environment (secrets) and command
line, so those fields are removed before anything reaches the API. The event stream is filtered
line by line: only container lifecycle events pass, rebuilt from an allowlist (exec events carry
the command line in their action, container events carry every label as attributes).

Modules (standard library only, copied side by side into the image): request_rules.py (which requests pass, what
is removed from answers), events_filter.py (which events pass, rebuilt how), event_stream.py (relaying GET
/events), tls_server.py (the listener and mutual TLS), proxy_log.py (JSON log lines); this file is the request
handler and main().

One thread per connection; configured by environment:
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
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from event_stream import EventStreamMixin, UnixHTTPConnection
from events_filter import events_query_ok, filter_event
from proxy_log import log
from request_rules import ROUTES, filter_body, match_route, redact_inspect, redact_list, upstream_target
from tls_server import HANDSHAKE_TIMEOUT, TLS_VARS, ConfigError, Server, serve_in_background, tls_context, tls_from_env

# Re-exported: the proxy's public pieces, importable from this one module as before the split.
__all__ = [
    "HANDSHAKE_TIMEOUT",
    "ROUTES",
    "TLS_VARS",
    "ConfigError",
    "HealthHandler",
    "ProxyHandler",
    "Server",
    "UnixHTTPConnection",
    "events_query_ok",
    "filter_body",
    "filter_event",
    "log",
    "main",
    "match_route",
    "redact_inspect",
    "redact_list",
    "tls_context",
    "tls_from_env",
]


class ProxyHandler(EventStreamMixin):
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
            target = upstream_target(route, self.path)
            conn.request(self.command, target, headers={"Host": "docker", "User-Agent": "socket-proxy"})
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
        serve_in_background(health)
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

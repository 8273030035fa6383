"""The socket proxy's GET /events: the engine's stream relayed line by line (chunked, long-lived, closed when either
side goes), each line through events_filter.filter_event. A mixin of the request handler. Standard library only.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from http.server import BaseHTTPRequestHandler

from events_filter import filter_event
from process_rules import exec_attributes
from proxy_log import log


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EventStreamMixin(BaseHTTPRequestHandler):
    """GET /events for ProxyHandler (which provides socket_path, upstream_timeout, _send and _refuse)."""

    socket_path: str
    upstream_timeout: float

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        raise NotImplementedError  # ProxyHandler's

    def _refuse(self, status: int, reason: str) -> None:
        raise NotImplementedError  # ProxyHandler's

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

    def _exec_facts(self, exec_id: str) -> dict[str, str]:
        """privileged and user of an exec (its inspect, reduced); {} when the engine cannot say."""
        conn = UnixHTTPConnection(self.socket_path, self.upstream_timeout)
        try:
            conn.request("GET", f"/exec/{exec_id}/json", headers={"Host": "docker", "User-Agent": "socket-proxy"})
            resp = conn.getresponse()
            doc = json.loads(resp.read()) if resp.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            doc = None
        finally:
            conn.close()
        return exec_attributes(doc) if isinstance(doc, dict) else {}

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
                    out = filter_event(line, self._exec_facts) if line.strip() else None
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

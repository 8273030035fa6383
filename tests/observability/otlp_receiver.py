"""A minimal OTLP/HTTP traces receiver, run by the observability suite inside a container on
the stack's network (the API cannot reach the host's 127.0.0.1). It keeps every export body as
received; the test fetches them (GET /received, base64) and decodes the protobuf itself.
Standard library only, so it runs in any image with python3."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_BODIES: list[str] = []
_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        with _LOCK:
            _BODIES.append(base64.b64encode(body).decode())
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with _LOCK:
            payload = json.dumps(_BODIES if self.path == "/received" else {"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        return


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 4318), Handler).serve_forever()

#!/usr/bin/env python3
"""Example receiver for the recorder's webhook (standard library only; see docs/HISTORY.md).

    python3 docs/examples/webhook_receiver.py --port 9000 --secret-file /run/secrets/webhook

It checks the HMAC-SHA256 signature over "<timestamp>.<body>", rejects timestamps older than five
minutes (replays), and ignores a change it has already seen (same Idempotency-Key).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOLERANCE = 300  # seconds


def verify(secret: bytes, timestamp: str, signature: str, body: bytes, now: float | None = None) -> bool:
    """True when the signature matches and the timestamp is fresh."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > TOLERANCE:
        return False
    expected = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Receiver(ThreadingHTTPServer):
    def __init__(self, port: int, secret: bytes, fail_first: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.secret = secret
        self.fail_first = fail_first  # answer 500 to this many requests first (to watch the retries)
        self.requests = 0
        self.seen: dict[str, dict] = {}  # Idempotency-Key -> change


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests += 1
        if self.server.requests <= self.server.fail_first:
            return self._answer(500)
        ok = verify(
            self.server.secret,
            self.headers.get("X-Inventory-Timestamp", ""),
            self.headers.get("X-Inventory-Signature", ""),
            body,
        )
        if not ok:
            return self._answer(401)
        key = self.headers.get("Idempotency-Key", "")
        if key not in self.server.seen:  # a retry of a change we already have is acknowledged, not re-processed
            self.server.seen[key] = json.loads(body)["change"]
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret-file", type=Path, required=True)
    args = parser.parse_args()
    server = Receiver(args.port, args.secret_file.read_bytes().strip())
    print(f"listening on 127.0.0.1:{args.port}")
    server.serve_forever()


if __name__ == "__main__":
    main()

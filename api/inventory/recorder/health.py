"""Health probe for the recorder (compose healthcheck, Kubernetes exec probe).

Exit 0 when the recorder's metrics endpoint answers and its last cycle reached the database.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("RECORDER_METRICS_PORT", "9101")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:  # nosec B310 (fixed http URL)
            body = resp.read()
    except OSError as exc:
        print(f"recorder not answering: {exc}", file=sys.stderr)
        return 1
    if b"inventory_recorder_database_up 1.0" not in body:
        print("recorder: history database unavailable", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

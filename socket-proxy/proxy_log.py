"""One JSON log line per event on stdout (the socket proxy's only output). Standard library only."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def log(**fields: Any) -> None:
    fields = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "logger": "socket-proxy", **fields}
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()

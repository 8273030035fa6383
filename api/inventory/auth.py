"""Optional bearer-token auth for /api/*.

The token is read from a file (a mounted Secret) and re-read whenever the file
changes, so rotation needs no restart. Comparison is constant-time. The token is
never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading

from .problems import Problem

log = logging.getLogger(__name__)


class TokenFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token: bytes | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.path)

    def current(self) -> bytes | None:
        """The token as the file holds it now (None when missing or empty)."""
        return self._current()

    def _current(self) -> bytes | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                try:
                    with open(self.path, "rb") as fh:
                        token = fh.read().strip()
                except OSError:
                    return None
                self._token = token or None
                self._stamp = stamp
                log.info("api token loaded", extra={"event": "token_reload"})
            return self._token

    def check(self, authorization: str | None) -> None:
        """Raise a 401/503 Problem unless the Authorization header carries the current token."""
        if not self.enabled:
            return
        expected = self._current()
        if expected is None:
            raise Problem(
                503,
                "auth-unavailable",
                "Authentication unavailable",
                "the API token file is missing or empty; refusing all requests",
            )
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise Problem(401, "unauthorized", "Unauthorized", "a bearer token is required")
        if not hmac.compare_digest(presented.strip().encode(), expected):
            raise Problem(401, "unauthorized", "Unauthorized", "the bearer token is not valid")

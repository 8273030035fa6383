"""Two small caches: a TTL cache with single-flight, and a cache of values derived from one state version.

TTLCache: N concurrent misses for the same key cause exactly one call to the loader; the other
callers wait for its result (or its exception). Errors are not cached, so recovery is
immediate once the backend answers again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from .metrics import CACHE_REQUESTS

T = TypeVar("T")


class _Flight:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None


class TTLCache(Generic[T]):
    def __init__(self, name: str, ttl: float, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, T]] = {}
        self._flights: dict[Hashable, _Flight] = {}

    def get(self, key: Hashable, loader: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                CACHE_REQUESTS.labels(self.name, "hit").inc()
                return entry[1]
            existing = self._flights.get(key)
            leader = existing is None
            flight = existing if existing is not None else _Flight()
            if leader:
                self._flights[key] = flight
        if not leader:
            CACHE_REQUESTS.labels(self.name, "shared").inc()
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[return-value]
        CACHE_REQUESTS.labels(self.name, "miss").inc()
        try:
            value = loader()
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.value = value
            if self.ttl > 0:
                with self._lock:
                    if len(self._entries) >= self.max_entries:
                        self._evict(self._clock())
                    self._entries[key] = (self._clock() + self.ttl, value)
            return value
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _evict(self, now: float) -> None:
        expired = [k for k, (exp, _) in self._entries.items() if exp <= now]
        for k in expired or list(self._entries)[: max(1, len(self._entries) // 4)]:
            del self._entries[k]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class VersionedCache(Generic[T]):
    """Values derived from a state version (a posture report, a rendered page), computed once per (version, key).

    No TTL: a new version is the only invalidation. ``versions=1`` (rendered pages, which are large) drops
    everything when the version moves; more versions suit callers that alternate between views (one source, all
    sources), bounded by ``max_entries`` (least recently used goes first).
    """

    def __init__(self, max_entries: int = 64, versions: int = 1) -> None:
        self._lock = threading.Lock()
        self._versions: OrderedDict[Hashable, None] = OrderedDict()
        self._entries: OrderedDict[tuple[Hashable, Hashable], T] = OrderedDict()
        self._max = max_entries
        self._keep = versions

    def get(self, version: Hashable, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            found = self._entries.get((version, key), _MISSING)
            if found is not _MISSING:
                self._entries.move_to_end((version, key))
                return found  # type: ignore[return-value]
        value = build()  # outside the lock: two first callers may both build; the results are equal
        with self._lock:
            self._versions[version] = None
            self._versions.move_to_end(version)
            while len(self._versions) > self._keep:
                old, _ = self._versions.popitem(last=False)
                for k in [k for k in self._entries if k[0] == old]:
                    del self._entries[k]
            self._entries[(version, key)] = value
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value


_MISSING = object()

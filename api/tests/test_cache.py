from __future__ import annotations

import threading
import time

import pytest
from inventory.cache import TTLCache


def test_concurrent_misses_cause_one_load() -> None:
    cache: TTLCache[int] = TTLCache("t", ttl=5)
    calls = []
    barrier = threading.Barrier(20)

    def loader() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get("k", loader))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 20 and len(calls) == 1


def test_errors_are_shared_but_not_cached() -> None:
    cache: TTLCache[int] = TTLCache("t", ttl=5)
    attempts = []

    def failing() -> int:
        attempts.append(1)
        raise RuntimeError("engine down")

    with pytest.raises(RuntimeError):
        cache.get("k", failing)
    assert cache.get("k", lambda: 7) == 7 and len(attempts) == 1


def test_entries_expire_after_ttl() -> None:
    now = [100.0]
    cache: TTLCache[int] = TTLCache("t", ttl=2, clock=lambda: now[0])
    values = iter([1, 2])
    assert cache.get("k", lambda: next(values)) == 1
    now[0] += 1.9
    assert cache.get("k", lambda: next(values)) == 1
    now[0] += 0.2
    assert cache.get("k", lambda: next(values)) == 2


def test_ttl_zero_disables_caching_and_bounded_size() -> None:
    cache: TTLCache[int] = TTLCache("t", ttl=0)
    counter = iter(range(10))
    assert cache.get("k", lambda: next(counter)) == 0
    assert cache.get("k", lambda: next(counter)) == 1
    small: TTLCache[int] = TTLCache("s", ttl=60, max_entries=4)
    for i in range(10):
        small.get(i, lambda i=i: i)
    assert len(small._entries) <= 4

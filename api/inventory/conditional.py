"""ETags and 304s for the listing and posture answers.

An ETag is a hash of what the answer says (everything but the echoed ``client_ip``), so it is the same in every
gunicorn worker and every replica that holds the same inventory, and it changes exactly when the inventory
behind the answer changes. It is weak (``W/``): two clients get the same tag for bodies that differ only in
their own address. The listing's rendered items and tag are kept per (state version, query): a repeated
listing costs neither the dict conversion nor the hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, request

from .cache import VersionedCache


def content_etag(content: Any) -> str:
    raw = json.dumps(content, separators=(",", ":"), sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def not_modified(etag: str) -> bool:
    """True when the request's If-None-Match names this (weak) tag or ``*``."""
    return request.if_none_match.contains_weak(etag) or request.if_none_match.star_tag


def conditional(etag: str, build: Callable[[], Response], headers: Callable[[Response], Response]) -> Response:
    """304 (with the same caching headers and ETag) when the client has this answer, else the full answer."""
    if not_modified(etag):
        resp = headers(Response(status=304))
    else:
        resp = headers(build())
    resp.set_etag(etag, weak=True)
    return resp


class RenderedPages:
    """Encoded answers and their ETags per (state version, query); holds the current version's only.

    Selecting, paging and encoding 200 containers (~100 KB of JSON), or a posture report of them, is most of an
    answer's cost; a repeated request against an unchanged inventory skips all of it and only adds its own
    ``client_ip``.
    """

    def __init__(self, dumps: Callable[[Any], str], max_entries: int = 256) -> None:
        self._dumps = dumps
        self._cache: VersionedCache[tuple[bytes, str]] = VersionedCache(max_entries)

    def body(self, version: Hashable, query: Hashable, build: Callable[[], dict[str, Any]]) -> tuple[bytes, str]:
        """(UTF-8 JSON of ``build()`` without its closing brace, ETag); ``build`` runs only when the answer is not
        kept."""

        def render() -> tuple[bytes, str]:
            raw = self._dumps(build()).encode()
            return raw[:-1], hashlib.sha256(raw).hexdigest()[:32]

        return self._cache.get(version, ("json", query), render)

    def raw(self, version: Hashable, query: Hashable, build: Callable[[], bytes]) -> tuple[bytes, str]:
        """(``build()``, ETag) for answers that carry no client address (SARIF, JUnit)."""

        def render() -> tuple[bytes, str]:
            raw = build()
            return raw, hashlib.sha256(raw).hexdigest()[:32]

        return self._cache.get(version, ("raw", query), render)

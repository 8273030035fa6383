"""ETags and 304s for the listing and posture answers.

An ETag is ``etag_of`` the encoded answer as rendered, without the echoed ``client_ip`` (JSON answers are hashed
before their own address is appended; SARIF and JUnit carry none): the encoding of the same inventory is the same
bytes in every gunicorn worker and every replica, so is the tag, and it changes exactly when the answer does.
It is weak (``W/``): two clients get the same tag for bodies that differ only in their own address. The rendered
answers and their tags are kept per (state version, query): a repeated request costs neither the encoding nor
the hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable

from flask import Response, request

from .cache import VersionedCache


def etag_of(rendered: bytes) -> str:
    """The ETag of an answer: the first 32 hex digits of the SHA-256 of its encoded bytes."""
    return hashlib.sha256(rendered).hexdigest()[:32]


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

    def __init__(self, max_entries: int = 256) -> None:
        self._cache: VersionedCache[tuple[bytes, str]] = VersionedCache(max_entries)

    def body(self, version: Hashable, query: Hashable, build: Callable[[], bytes]) -> tuple[bytes, str]:
        """(``build()``, a JSON object encoded by its API model, without its closing brace; ETag); ``build`` runs
        only when the answer is not kept."""

        def render() -> tuple[bytes, str]:
            raw = build()
            return raw[:-1], etag_of(raw)

        return self._cache.get(version, ("json", query), render)

    def raw(self, version: Hashable, query: Hashable, build: Callable[[], bytes]) -> tuple[bytes, str]:
        """(``build()``, ETag) for answers that carry no client address (SARIF, JUnit)."""

        def render() -> tuple[bytes, str]:
            raw = build()
            return raw, etag_of(raw)

        return self._cache.get(version, ("raw", query), render)

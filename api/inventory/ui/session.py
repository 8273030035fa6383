"""Dashboard sign-in: a signed session cookie instead of a bearer header, with CSRF tokens for its two forms.

When the API token is configured the UI asks for it once, then keeps a session cookie that is HttpOnly,
SameSite=Strict and Secure when the request came over TLS. The cookie is signed with the key in
UI_SECRET_KEY_FILE, or (when that is unset) with a key derived from the API token itself, so rotating the
token signs everybody out. The session also holds a fingerprint of the token it was opened with: a
rotated token ends old sessions even with a separate signing key. Nothing is ever hard-coded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, request, session
from flask.sessions import NullSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from ..auth import TokenFile
from ..config import Settings

COOKIE_NAME = "inventory_ui"
_KEY_CONTEXT = b"container-inventory/ui/cookie-key/v1"
_FINGERPRINT_CONTEXT = b"container-inventory/ui/session/v1"


class SigningKey:
    """The cookie signing key: UI_SECRET_KEY_FILE (re-read on change) or derived from the API token."""

    def __init__(self, settings: Settings, token: TokenFile) -> None:
        self._file = TokenFile(settings.ui_secret_key_file) if settings.ui_secret_key_file else None
        self._token = token

    def current(self) -> bytes | None:
        if self._file is not None:
            return self._file.current()
        token = self._token.current()
        return hmac.new(token, _KEY_CONTEXT, hashlib.sha256).digest() if token else None


class UISessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session with a key that may change at run time and a per-request Secure flag."""

    def __init__(self, key: SigningKey, secure: str) -> None:
        self._key = key
        self._secure = secure

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = self._key.current()
        if key is None:
            return None  # Flask then uses a NullSession: nobody can sign in (the views answer 503)
        return URLSafeTimedSerializer(
            key,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def get_cookie_secure(self, app: Flask) -> bool:
        if self._secure != "auto":
            return self._secure == "true"
        # Nginx overwrites X-Forwarded-Proto with its own scheme, so the header cannot be forged through it.
        return request.is_secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def init_session(app: Flask, settings: Settings, token: TokenFile) -> None:
    app.session_interface = UISessionInterface(SigningKey(settings, token), settings.ui_cookie_secure)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/ui/",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.ui_session_hours),
    )


def fingerprint(token: bytes) -> str:
    return hmac.new(token, _FINGERPRINT_CONTEXT, hashlib.sha256).hexdigest()[:32]


def csrf_token() -> str:
    """The session's CSRF token (created on first use); the forms carry it in a hidden field."""
    if isinstance(session, NullSession):
        return ""  # no signing key (token file missing): nothing can be signed, the views answer 503
    value = session.get("csrf")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    return value


def csrf_ok(presented: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and bool(presented) and hmac.compare_digest(expected, presented or "")


def signed_in(token: bytes) -> bool:
    value = session.get("auth")
    return isinstance(value, str) and hmac.compare_digest(value, fingerprint(token))


def sign_in(token: bytes) -> None:
    session.clear()
    session.permanent = True
    session["auth"] = fingerprint(token)
    session["csrf"] = secrets.token_urlsafe(32)  # a new token after sign-in (no fixation)


def sign_out() -> None:
    session.clear()


def token_matches(presented: str, token: bytes) -> bool:
    return hmac.compare_digest(presented.strip().encode(), token)

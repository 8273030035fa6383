"""The socket proxy's listener: a threading HTTP server that, with mutual TLS on, runs each handshake in the
connection's own thread and refuses clients without a certificate signed by TLS_CA_FILE before anything is read;
the TLS settings from the environment (all three or none). Standard library only.
"""

from __future__ import annotations

import os
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from proxy_log import log


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake runs in the connection's own thread (finish_request), so a slow or
            # silent client cannot stall the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc.__class__.__name__
                log(level="warning", message="tls handshake refused", client=client_address[0], reason=str(reason))
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


HANDSHAKE_TIMEOUT = 5.0
TLS_VARS = ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE")


class ConfigError(ValueError):
    """An environment setting the proxy cannot start with."""


def tls_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    """Server context for mutual TLS: our certificate, and client certificates required from client_ca."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cafile=client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files: {exc.__class__.__name__}: {exc.strerror or exc}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def tls_from_env(env: dict[str, str] | os._Environ[str]) -> ssl.SSLContext | None:
    values = {name: env.get(name, "").strip() for name in TLS_VARS}
    given = [name for name, value in values.items() if value]
    if not given:
        return None
    if len(given) != len(TLS_VARS):
        missing = ", ".join(name for name in TLS_VARS if name not in given)
        raise ConfigError(f"mutual TLS needs {', '.join(TLS_VARS)}; missing {missing}")
    return tls_context(values["TLS_CERT_FILE"], values["TLS_KEY_FILE"], values["TLS_CA_FILE"])


def serve_in_background(server: Server) -> None:
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()

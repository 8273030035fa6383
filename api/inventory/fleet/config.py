"""Which engines and clusters this API aggregates: SOURCES_FILE, or the single-source environment default.

A sources file (YAML or JSON) is validated against ``sources.schema.json`` with jsonschema, then checked
for what a schema cannot say (unique names, files that exist, one way to reach a cluster). Any problem
stops startup with one line that names the file and the place: ``sources[2].tls: 'key' is a required
property``. Without SOURCES_FILE the classic variables (INVENTORY_BACKEND, DOCKER_HOST, K8S_*) describe
one source named ``local`` (SOURCE_NAME), which is what ``make up`` runs.

The ground floor of the fleet: backends and live states are built from a ``SourceConfig`` (and
``LiveTimings``), never from the settings. Imported by gunicorn's master before any worker starts: standard
library, yaml, jsonschema and ``inventory.config`` only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from ..config import ConfigError, SingleSource, load_single_source

SCHEMA_PATH = Path(__file__).with_name("sources.schema.json")
DEFAULT_SOURCE = "local"
KINDS = ("docker", "podman", "kubernetes")
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"  # also the API models' source name
_NAME = re.compile(NAME_PATTERN)


class SourcesError(ConfigError):
    """The sources file or the single-source variables cannot be used (one line)."""


@dataclass(frozen=True)
class LiveTimings:
    """What a source's live state needs besides its SourceConfig (CACHE_TTL, LIVE_RESYNC_INTERVAL)."""

    cache_ttl: float
    resync_interval: float


@dataclass(frozen=True)
class TLSFiles:
    """Client side of mutual TLS to a socket proxy: the proxy's CA, our certificate and key (PEM paths)."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str  # docker | podman | kubernetes
    timeout: float
    url: str = ""  # docker / podman engine URL
    tls: TLSFiles | None = None
    in_cluster: bool = False  # kubernetes: the pod's ServiceAccount
    kubeconfig: str = ""  # kubernetes: file (default: $KUBECONFIG or ~/.kube/config)
    context: str = ""  # kubernetes: context (default: current-context)
    namespaces: tuple[str, ...] = ()
    api_url: str = ""  # kubernetes: plain API server URL (tests, kubectl proxy)

    @property
    def endpoint(self) -> str:
        """Where the source points, safe to show: no user, password, query or token ever."""
        if self.kind == "kubernetes":
            if self.in_cluster:
                return "in-cluster"
            if self.api_url:
                return _strip_credentials(self.api_url)
            return f"kubeconfig context {self.context}" if self.context else "kubeconfig current-context"
        return _strip_credentials(self.url)


def _strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _where(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _readable(path: str, what: str, where: str) -> None:
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise SourcesError(f"{where}: {what} {path!r} does not exist or is not readable")


def _check_source(doc: dict[str, Any], where: str, default_timeout: float) -> SourceConfig:
    kind = doc["type"]
    timeout = float(doc.get("timeout", default_timeout))
    if kind != "kubernetes":
        tls = None
        if "tls" in doc:
            if not doc["url"].startswith(("tcp://", "https://")):
                raise SourcesError(f"{where}.tls: mutual TLS needs a tcp:// or https:// url")
            for part in ("ca", "cert", "key"):
                _readable(doc["tls"][part], f"tls {part} file", where)
            tls = TLSFiles(**doc["tls"])
        return SourceConfig(name=doc["name"], kind=kind, timeout=timeout, url=doc["url"], tls=tls)
    in_cluster = bool(doc.get("in_cluster", False))
    if in_cluster == bool(doc.get("kubeconfig") or doc.get("context")):
        raise SourcesError(f"{where}: a kubernetes source needs either in_cluster: true or a kubeconfig/context")
    if doc.get("kubeconfig"):
        _readable(doc["kubeconfig"], "kubeconfig", where)
    return SourceConfig(
        name=doc["name"],
        kind=kind,
        timeout=timeout,
        in_cluster=in_cluster,
        kubeconfig=doc.get("kubeconfig", ""),
        context=doc.get("context", ""),
        namespaces=tuple(doc.get("namespaces", ())),
    )


def parse_sources(text: str, origin: str, default_timeout: float) -> tuple[SourceConfig, ...]:
    """Validate a sources document (YAML or JSON text); raise SourcesError with one line."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise SourcesError(f"{origin}: not valid YAML/JSON{at}") from None
    error = best_match(_schema_validator().iter_errors(doc))
    if error is not None:
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        raise SourcesError(f"{origin}: {_where(error)}: {message}")
    default_timeout = float(doc.get("defaults", {}).get("timeout", default_timeout))
    sources: list[SourceConfig] = []
    for index, item in enumerate(doc["sources"]):
        where = f"{origin}: sources[{index}]"
        if any(s.name == item["name"] for s in sources):
            raise SourcesError(f"{where}.name: {item['name']!r} is used by another source")
        sources.append(_check_source(item, where, default_timeout))
    return tuple(sources)


def load_sources_file(path: str, default_timeout: float) -> tuple[SourceConfig, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(f"SOURCES_FILE={path!r} cannot be read: {exc.__class__.__name__}") from None
    return parse_sources(text, f"SOURCES_FILE {path}", default_timeout)


def source_from_env(single: SingleSource, timeout: float) -> SourceConfig:
    """The single source the classic variables describe (what `make up` runs)."""
    if not _NAME.match(single.name):
        raise SourcesError(f"SOURCE_NAME={single.name!r} must be 1-40 of a-z, 0-9 and '-' (not at either end)")
    if single.backend == "kubernetes":
        return SourceConfig(
            name=single.name,
            kind="kubernetes",
            timeout=timeout,
            in_cluster=single.k8s_in_cluster and not single.k8s_api_url,
            context=single.k8s_context,
            namespaces=single.k8s_namespaces,
            api_url=single.k8s_api_url,
        )
    tls = None
    if single.docker_tls_verify not in ("", "0"):
        if not single.docker_cert_path:
            raise SourcesError("DOCKER_TLS_VERIFY is set but DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) is not")
        tls = TLSFiles(*(os.path.join(single.docker_cert_path, f) for f in ("ca.pem", "cert.pem", "key.pem")))
        for part in (tls.ca, tls.cert, tls.key):
            _readable(part, "DOCKER_CERT_PATH file", "DOCKER_CERT_PATH")
    return SourceConfig(name=single.name, kind="docker", timeout=timeout, url=single.docker_host, tls=tls)


def load_sources(sources_file: str, timeout: float, env: Mapping[str, str] | None = None) -> tuple[SourceConfig, ...]:
    """Every source: the SOURCES_FILE's, or the one the single-source variables describe (validated either way,
    as they always were). ``timeout``: ENGINE_TIMEOUT, the default of every source."""
    single = load_single_source(env)
    if sources_file:
        return load_sources_file(sources_file, timeout)
    return (source_from_env(single, timeout),)

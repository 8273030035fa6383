"""Waivers: audited exceptions (rule + target + reason + owner + expiry).

Sources: the waiver file (``WAIVER_FILE``, YAML or JSON, mounted like a ConfigMap; validated against
``WAIVER_SCHEMA`` at startup, a malformed file stops startup) and, when the operator allows it
(``ALLOW_SELF_WAIVERS``) and the file does not forbid it (``selfWaivers: forbid``), a container's own
label (Docker) or pod annotation (Kubernetes) ``container-inventory.io/waive.<rule>`` whose value is
JSON ``{"reason": ..., "owner": ..., "expires": "YYYY-MM-DD"}``. A waiver applies through its expiry
date; after that it is reported as expired and the finding counts again.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SELF_WAIVER_PREFIX = "container-inventory.io/waive."
WAIVER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["waivers"],
    "properties": {
        "version": {"const": 1},
        "selfWaivers": {"enum": ["allow", "forbid"]},
        "waivers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rule", "target", "reason", "owner", "expires"],
                "properties": {
                    "rule": {"type": "string"},
                    "target": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "image": {"type": "string", "minLength": 1},
                            "namespace": {"type": "string", "minLength": 1},
                            "labels": {
                                "type": "object",
                                "minProperties": 1,
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                    "reason": {"type": "string", "minLength": 10},
                    "owner": {"type": "string", "minLength": 1},
                    "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                },
            },
        },
    },
}


class WaiverFileError(ValueError):
    """The waiver file is missing, unparsable or does not match the schema (one line)."""


@dataclass(frozen=True)
class Target:
    """What a waiver covers; every given field must match (glob patterns for name and image)."""

    name: str | None = None  # container name (Docker) or namespace/pod/container (Kubernetes)
    image: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def matches(self, name: str, image: str, namespace: str | None, labels: dict[str, str]) -> bool:
        if self.name is not None and not fnmatch.fnmatchcase(name, self.name):
            return False
        if self.image is not None and not fnmatch.fnmatchcase(image, self.image):
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (("name", self.name), ("image", self.image)) if v is not None}
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class Waiver:
    rule: str
    target: Target
    reason: str
    owner: str
    expires: date
    origin: str = "file"  # file | label | annotation

    def expired(self, today: date) -> bool:
        return today > self.expires

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "target": self.target.to_dict(),
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
            "origin": self.origin,
        }


@dataclass(frozen=True)
class WaiverPolicy:
    """Everything the engine needs to apply waivers: the file's waivers and whether self-waivers count."""

    waivers: tuple[Waiver, ...] = ()
    self_waivers: bool = False
    path: str = ""


def _parse(text: str, path: str) -> Any:
    try:
        return yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise WaiverFileError(f"WAIVER_FILE {path}: not valid YAML/JSON{where}") from None


def load_waiver_file(path: str, known_rules: set[str], allow_self_waivers: bool = False) -> WaiverPolicy:
    """Read and validate a waiver file; raise WaiverFileError with one line saying what and where."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WaiverFileError(f"WAIVER_FILE {path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    doc = _parse(text, path)
    try:
        jsonschema.validate(doc, WAIVER_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise WaiverFileError(f"WAIVER_FILE {path}: {where}: {exc.message}") from None
    waivers = []
    for i, raw in enumerate(doc["waivers"]):
        if raw["rule"] not in known_rules:
            raise WaiverFileError(f"WAIVER_FILE {path}: waivers/{i}/rule: unknown rule {raw['rule']!r}")
        try:
            expires = date.fromisoformat(raw["expires"])
        except ValueError:
            raise WaiverFileError(f"WAIVER_FILE {path}: waivers/{i}/expires: {raw['expires']!r} is no date") from None
        t = raw["target"]
        target = Target(t.get("name"), t.get("image"), t.get("namespace"), dict(t.get("labels") or {}))
        waivers.append(Waiver(raw["rule"], target, raw["reason"].strip(), raw["owner"].strip(), expires))
    forbid = doc.get("selfWaivers") == "forbid"
    return WaiverPolicy(tuple(waivers), allow_self_waivers and not forbid, path)


def self_waivers(requests: dict[str, str], known_rules: set[str], origin: str) -> list[Waiver]:
    """Waivers a container declares for itself (label/annotation values); malformed ones are ignored."""
    out = []
    for rule, value in sorted(requests.items()):
        try:
            raw = json.loads(value)
            reason, owner = str(raw["reason"]).strip(), str(raw["owner"]).strip()
            expires = date.fromisoformat(str(raw["expires"]))
        except (ValueError, KeyError, TypeError):
            continue
        if rule in known_rules and reason and owner:
            out.append(Waiver(rule, Target(), reason, owner, expires, origin))
    return out


def waiver_requests(labels: dict[str, str]) -> dict[str, str]:
    """``container-inventory.io/waive.<rule>`` labels/annotations -> {rule: raw value}."""
    return {k[len(SELF_WAIVER_PREFIX) :]: v for k, v in labels.items() if k.startswith(SELF_WAIVER_PREFIX)}

"""Waivers: audited exceptions (rule + target + reason + owner + expiry)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date
from typing import Any


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

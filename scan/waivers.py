"""scan/waivers.yaml: the one place where a scanner finding may be accepted, each with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import yaml

TOOLS = ("hadolint", "trivy", "trivy-vuln", "trivy-secret", "checkov", "dockle", "compose")
MIN_REASON = 15  # characters: "ok", "fp" or "later" are not reasons


class WaiverError(ValueError):
    """The waiver file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Waiver:
    tool: str
    id: str
    reason: str
    paths: tuple[str, ...] = ()  # empty = everywhere; else fnmatch globs of the files it applies to

    def covers(self, ident: str, path: str) -> bool:
        path = path.lstrip("/")
        return ident == self.id and (not self.paths or any(fnmatch(path, g) for g in self.paths))


@dataclass(frozen=True)
class Waivers:
    all: tuple[Waiver, ...]

    def of(self, tool: str) -> list[Waiver]:
        return [w for w in self.all if w.tool == tool]

    def ids(self, tool: str) -> list[str]:
        """Ids waived everywhere (path-scoped waivers are applied by `accepts`)."""
        return [w.id for w in self.of(tool) if not w.paths]

    def accepts(self, tool: str, ident: str, path: str) -> bool:
        return any(w.covers(ident, path) for w in self.of(tool))


def load_waivers(path: Path) -> Waivers:
    """Parse and validate: known tool, non-empty id, a real reason, no duplicates, no unknown keys."""
    if not path.is_file():
        raise WaiverError(f"waiver file {path} not found")
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("waivers", []), list):
        raise WaiverError(f"{path}: expected a mapping with a 'waivers' list")
    seen: set[tuple[str, str, str]] = set()
    out = []
    for n, entry in enumerate(doc.get("waivers") or [], start=1):
        if not isinstance(entry, dict):
            raise WaiverError(f"{path}: waiver #{n} is not a mapping")
        unknown = set(entry) - {"tool", "id", "reason", "paths"}
        if unknown:
            raise WaiverError(f"{path}: waiver #{n} has unknown key(s) {sorted(unknown)}")
        tool, ident, reason = (str(entry.get(k) or "").strip() for k in ("tool", "id", "reason"))
        if tool not in TOOLS:
            raise WaiverError(f"{path}: waiver #{n} ({ident}): tool must be one of {', '.join(TOOLS)}")
        if not ident:
            raise WaiverError(f"{path}: waiver #{n}: missing id")
        if len(reason) < MIN_REASON:
            raise WaiverError(f"{path}: waiver #{n} ({tool} {ident}): needs a reason (>= {MIN_REASON} chars)")
        if (tool, ident, str(entry.get("paths"))) in seen:
            raise WaiverError(f"{path}: waiver #{n}: duplicate {tool} {ident}")
        seen.add((tool, ident, str(entry.get("paths"))))
        paths = entry.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(g, str) and g for g in paths):
            raise WaiverError(f"{path}: waiver #{n} ({tool} {ident}): paths must be a list of globs")
        out.append(Waiver(tool, ident, reason, tuple(paths)))
    return Waivers(tuple(out))

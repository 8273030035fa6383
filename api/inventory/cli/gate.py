"""inventory-scan's gate: read the baseline (a file or an http(s) URL), render with baseline states, count failures."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..findings.baseline import (
    MAX_BASELINE_BYTES,
    BaselineError,
    Comparison,
    Gate,
    Known,
    annotate_json,
    annotate_sarif,
    compare,
    read_baseline,
)
from ..posture.formats import to_junit, to_sarif, to_table
from ..posture.report import Finding, PostureReport

URL_TIMEOUT = 15.0


def fetch(arg: str) -> bytes:
    """The baseline's bytes: a local file, or a report published at an http(s) URL (e.g. the last release's)."""
    if arg.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(arg, timeout=URL_TIMEOUT) as answer:  # noqa: S310 # nosec B310 - scheme checked
                data: bytes = answer.read(MAX_BASELINE_BYTES + 1)
                return data
        except (urllib.error.URLError, OSError) as exc:
            raise BaselineError(f"baseline {arg}: cannot fetch it ({getattr(exc, 'reason', exc)})") from None
    if ":" in arg.split("/", 1)[0] and not Path(arg).exists():
        raise BaselineError(f"baseline {arg}: give a file or an http(s) URL")
    try:
        return Path(arg).read_bytes()
    except OSError as exc:
        raise BaselineError(f"baseline {arg}: cannot read it ({exc.strerror or exc.__class__.__name__})") from None


def load(arg: str | None) -> dict[str, Known] | None:
    return None if arg is None else read_baseline(fetch(arg), arg)


@dataclass(frozen=True)
class Outcome:
    text: str
    failing: list[Finding]
    comparison: Comparison | None


def run(report: PostureReport, fmt: str, version: str, gate: Gate | None, baseline: dict[str, Known] | None) -> Outcome:
    comparison = None if baseline is None else compare(report.findings, baseline)
    states = comparison.states if comparison else None
    if fmt == "json":
        doc = report.to_dict()
        text = json.dumps(annotate_json(doc, comparison) if comparison else doc, indent=2) + "\n"
    elif fmt == "sarif":
        sarif = to_sarif(report, version, states)
        text = json.dumps(annotate_sarif(sarif, comparison) if comparison else sarif, indent=2) + "\n"
    elif fmt == "junit":
        text = to_junit(report, states).decode() + "\n"
    else:
        text = to_table(report)
        if comparison:
            counts = comparison.count()
            text += "baseline: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n"
    bad = gate.failing(report.findings, comparison) if gate else []
    return Outcome(text, bad, comparison)

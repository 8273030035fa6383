"""Merge the per-image digest records `make push` / `make mirror` write (reports/images/<image>.json) into one
reports/images.json: {"<image>": {"repository": "<registry>/<image>", "tag": "<tag>", "digest": "sha256:..."}}.

    images_json.py DIR [--registry R] [--require IMAGE ...] [--tag T --tagged IMAGE ...]

Fails with one line (exit 2) on a malformed record, a repository outside the registry, a wrong tag or a missing
image, so a deploy never receives a half-filled file."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def merge(
    directory: Path, registry: str | None, require: list[str], tag: str | None = None, tagged: list[str] | None = None
) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc.msg})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected an object")
        for name, entry in doc.items():
            if not isinstance(entry, dict) or set(entry) != {"repository", "tag", "digest"}:
                raise ValueError(f"{path}: {name} needs exactly repository, tag, digest")
            if not DIGEST.fullmatch(entry["digest"]):
                raise ValueError(f"{path}: {name} digest {entry['digest']!r} is not sha256:<64 hex>")
            if not entry["tag"]:
                raise ValueError(f"{path}: {name} has an empty tag")
            if registry and entry["repository"] != f"{registry.rstrip('/')}/{name}":
                raise ValueError(f"{path}: {name} was pushed to {entry['repository']}, not {registry}/{name}")
            if name in merged and merged[name] != entry:
                raise ValueError(f"{path}: {name} recorded twice with different digests")
            merged[name] = entry
    if tag:
        wrong = {n: e["tag"] for n, e in merged.items() if e["tag"] != tag and n in (tagged or [])}
        if wrong:
            raise ValueError(f"asked for tag {tag}, but the last pushes are {wrong}")
    missing = [n for n in require if n not in merged]
    if missing:
        raise ValueError(f"no digest recorded for {', '.join(missing)} (run the build/mirror job that pushes it)")
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--registry")
    parser.add_argument("--require", nargs="*", default=[], help="images that must be recorded")
    parser.add_argument("--tag", help="the tag the --tagged images must carry (empty: any)")
    parser.add_argument("--tagged", nargs="*", default=[])
    args = parser.parse_args(argv)
    try:
        merged = merge(args.directory, args.registry, args.require, args.tag or None, args.tagged)
    except ValueError as exc:
        print(f"images-json: {exc}", file=sys.stderr)
        return 2
    json.dump(merged, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

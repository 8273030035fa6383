#!/usr/bin/env python3
"""Recording stand-in for the outermost binaries of a Jenkins build: docker (registry and engine side effects),
kubectl, helm (cluster side) and minikube. Installed under each name on the rehearsal's PATH; every call is appended
to $REHEARSAL_LOG as one JSON line {"tool", "argv", "cwd"}. Answers like the real tool where the scripts read the
answer: `docker push` prints the registry digest line (the same digest for every tag of one local image, as a
registry would), `helm template`/`lint` run the real helm (client-side only), kubectl answers the endpoint queries
deploy.sh makes. Anything with an empty tag (`flask-api:`) is refused as the real docker refuses it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

TOOL = Path(sys.argv[0]).name
ARGV = sys.argv[1:]
LOG = Path(os.environ["REHEARSAL_LOG"])
ALIASES = LOG.with_suffix(".aliases.json")
# A reference docker accepts: [registry/]name[:tag][@digest]; an empty tag after ':' is "invalid reference format".
BAD_REF = re.compile(r"(^|/)[^/:@]+:(@|$)")


def record() -> None:
    with LOG.open("a") as log:
        log.write(json.dumps({"tool": TOOL, "argv": ARGV, "cwd": os.getcwd()}) + "\n")


def refuse(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def aliases() -> dict[str, str]:
    return json.loads(ALIASES.read_text()) if ALIASES.exists() else {}


def root_of(ref: str) -> str:
    seen = aliases()
    while ref in seen:
        ref = seen[ref]
    return ref


def docker() -> None:
    verb = ARGV[0] if ARGV else ""
    refs = [a for a in ARGV[1:] if not a.startswith("-")]
    if verb in ("tag", "push", "pull", "image") and any(BAD_REF.search(r) for r in refs):
        refuse(f"invalid reference format: {' '.join(refs)}")
    if verb == "login":
        if any("--password" == a or a.startswith("--password=") for a in ARGV):
            refuse("stand-in: the password must come on stdin (--password-stdin)")
        sys.stdin.read()
        print("Login Succeeded")
    elif verb == "tag":
        table = aliases()
        table[refs[1]] = refs[0]
        ALIASES.write_text(json.dumps(table))
    elif verb == "push":
        ref = refs[0]
        digest = hashlib.sha256(root_of(ref).encode()).hexdigest()
        print(f"The push refers to repository [{ref.rsplit(':', 1)[0]}]")
        print(f"{ref.rsplit(':', 1)[1]}: digest: sha256:{digest} size: 1234")
    elif verb == "build":
        refuse("stand-in: `docker build` is not rehearsed (make -n shows the build commands)")


def helm() -> None:
    if ARGV and ARGV[0] in ("template", "lint", "show", "version"):
        real = os.environ["REHEARSAL_REAL_HELM"]
        sys.exit(subprocess.run([real, *ARGV], check=False).returncode)


def kubectl() -> None:
    text = " ".join(ARGV)
    if "get endpoints kubernetes" in text and "ports" in text:
        print("6443")
    elif "get endpoints kubernetes" in text:
        print("192.0.2.10")
    elif "get service kubernetes" in text:
        print("10.96.0.1")
    elif "config current-context" in text:
        print("rehearsal")


def minikube() -> None:
    if ARGV and ARGV[0] == "ip":
        print("192.0.2.49")


if __name__ == "__main__":
    record()
    {"docker": docker, "helm": helm, "kubectl": kubectl, "minikube": minikube}[TOOL]()

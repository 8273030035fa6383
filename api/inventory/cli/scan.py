"""inventory-scan: the posture catalog, offline or against a live engine, as a CI gate.

    inventory-scan manifests FILE... [--format table|json|sarif|junit] [--fail-on GATE] [--baseline REPORT]
                                     [--waivers FILE]
    inventory-scan docker [--host URL] [--all]
    inventory-scan kubernetes [--kubeconfig FILE] [--context NAME] [--namespace NS]...
    inventory-scan verify-evidence ENVELOPE --public-key PEM

Manifests: Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs
(e.g. ``helm template`` output), evaluated exactly as the API evaluates running pods. A gate is a severity
(``high``: any unwaived finding at or above it), ``new:<severity|any>`` (only findings absent from --baseline, a
previous JSON or SARIF report, a file or an http(s) URL) or ``all:<severity|any>``. Exit codes: 0 the gate passes
(or no gate), 1 it fails (verify-evidence: the evidence does not verify), 2 bad input (unreadable file, bad waiver
file, bad baseline or gate).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..findings.baseline import BaselineError, Gate
from ..model import BackendUnavailable
from ..posture.catalog import catalog
from ..posture.engine import build_report, evaluate_container
from ..posture.report import ContainerReport, PostureReport
from ..posture.waivers import WaiverFileError, WaiverPolicy, load_waiver_file
from .evidence import verify_file
from .gate import load as load_baseline
from .gate import run as run_gate

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


class InputError(ValueError):
    """A manifest file cannot be read or parsed (one line)."""


def pods_from_documents(docs: Iterable[Any]) -> list[dict[str, Any]]:
    """Pods, and pods made from workload templates (named after the workload, in its namespace)."""
    pods = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        kind, meta = doc.get("kind"), doc.get("metadata") or {}
        if kind == "List":
            pods += pods_from_documents(doc.get("items") or [])
            continue
        if kind == "Pod":
            template: dict[str, Any] = doc
        elif kind in WORKLOADS:
            template = (doc.get("spec") or {}).get("template") or {}
        elif kind == "CronJob":
            template = (((doc.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        else:
            continue
        tmeta = template.get("metadata") or {}
        pods.append(
            {
                "metadata": {
                    "name": meta.get("name", ""),
                    "namespace": meta.get("namespace") or "default",
                    "uid": f"{kind}/{meta.get('namespace') or 'default'}/{meta.get('name', '')}",
                    "labels": tmeta.get("labels") or {},
                    "annotations": tmeta.get("annotations") or {},
                },
                "spec": template.get("spec") or {},
            }
        )
    return pods


def scan_pods(pods: list[dict[str, Any]], policy: WaiverPolicy, source: str = "manifests") -> PostureReport:
    from ..backends.kubernetes import container_from_pod, security_from_pod, trim_pod
    from ..backends.kubernetes.mapping import iter_containers

    reports: list[ContainerReport] = []
    for raw in pods:
        pod = trim_pod(raw)
        for spec, status in iter_containers(pod):
            container = container_from_pod(pod, spec, status)
            reports.append(
                evaluate_container(
                    container,
                    security_from_pod(pod, spec),
                    "kubernetes",
                    source,
                    policy.waivers,
                    allow_self_waivers=policy.self_waivers,
                )
            )
    return build_report(source, "kubernetes", reports, policy.waivers)


def read_manifests(paths: list[str]) -> list[Any]:
    docs: list[Any] = []
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            docs += [d for d in yaml.safe_load_all(text) if d]
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(f"{path}: not valid YAML{f' (line {mark.line + 1})' if mark else ''}") from None
    return docs


def scan_live(args: argparse.Namespace, policy: WaiverPolicy) -> PostureReport:
    from ..fleet.config import SourceConfig
    from ..wiring import service_for

    if args.target == "docker":
        source = SourceConfig(name="local", kind="docker", timeout=args.timeout, url=args.host)
    else:
        source = SourceConfig(
            name="local",
            kind="kubernetes",
            timeout=args.timeout,
            kubeconfig=args.kubeconfig or "",
            context=args.context or "",
            namespaces=tuple(args.namespace or ()),
        )
    service = service_for(source, policy, {"CACHE_TTL": "0", "ENGINE_TIMEOUT": str(args.timeout)})
    service.start()
    return service.posture(include_stopped=args.all)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inventory-scan", description=__doc__.split("\n\n")[0])
    p.add_argument("target", choices=["manifests", "docker", "kubernetes", "verify-evidence"])
    p.add_argument("files", nargs="*", help="manifest files ('-' reads stdin); verify-evidence: the envelope")
    p.add_argument("--format", choices=["table", "json", "sarif", "junit"], default="table")
    p.add_argument(
        "--fail-on", metavar="GATE", help="exit 1 on unwaived findings: high, new:high, new:any, all:critical"
    )
    p.add_argument("--baseline", metavar="REPORT", help="previous JSON or SARIF report (file or http(s) URL)")
    p.add_argument("--public-key", action="append", default=[], help="verify-evidence: PEM public key (repeatable)")
    p.add_argument("--waivers", help="waiver file (same format as the API's WAIVER_FILE)")
    p.add_argument("--allow-self-waivers", action="store_true", help="honour waiver labels/annotations")
    p.add_argument("--output", "-o", help="write the report here instead of stdout")
    p.add_argument("--host", default="unix:///var/run/docker.sock", help="docker: engine URL")
    p.add_argument("--all", action="store_true", help="docker/kubernetes: include stopped containers")
    p.add_argument("--kubeconfig", help="kubernetes: kubeconfig file")
    p.add_argument("--context", help="kubernetes: kubeconfig context")
    p.add_argument("--namespace", action="append", help="kubernetes: namespace (repeatable; default all)")
    p.add_argument("--timeout", type=float, default=5.0, help="docker/kubernetes: engine timeout in seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.target == "verify-evidence":
        if len(args.files) != 1 or not args.public_key:
            print("inventory-scan: verify-evidence: give one envelope file and --public-key PEM", file=sys.stderr)
            return 2
        return verify_file(args.files[0], args.public_key)
    try:
        gate = Gate.parse(args.fail_on) if args.fail_on else None
        if gate and gate.needs_baseline and not args.baseline:
            raise BaselineError(f"--fail-on {args.fail_on}: a new: gate needs --baseline")
        baseline = load_baseline(args.baseline)
        known = {r.id for r in catalog().rules}
        policy = (
            load_waiver_file(args.waivers, known, args.allow_self_waivers)
            if args.waivers
            else WaiverPolicy((), args.allow_self_waivers)
        )
        if args.target == "manifests":
            if not args.files:
                raise InputError("manifests: give at least one file (or - for stdin)")
            report = scan_pods(pods_from_documents(read_manifests(args.files)), policy)
        else:
            report = scan_live(args, policy)
    except (InputError, WaiverFileError, BaselineError) as exc:
        print(f"inventory-scan: {exc}", file=sys.stderr)
        return 2
    except BackendUnavailable as exc:
        print(f"inventory-scan: {args.target} unavailable: {exc}", file=sys.stderr)
        return 2
    out = run_gate(report, args.format, _version(), gate, baseline)
    if args.output:
        Path(args.output).write_text(out.text, encoding="utf-8")
    else:
        sys.stdout.write(out.text)
    bad = len(out.failing)
    if gate and bad:
        print(f"inventory-scan: {bad} {gate.describe()}", file=sys.stderr)
    if out.comparison and out.comparison.absent:
        print(f"inventory-scan: {len(out.comparison.absent)} baseline finding(s) resolved since", file=sys.stderr)
    for w in report.expired_waivers:
        print(f"inventory-scan: waiver for {w.rule} expired on {w.expires} (owner {w.owner})", file=sys.stderr)
    return 1 if bad else 0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("container-inventory-api")
    except Exception:  # noqa: BLE001 - not installed as a distribution: a source checkout
        return "0.0.0-dev"


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main"]

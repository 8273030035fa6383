"""inventory-scan: the posture catalog, offline or against a live engine, as a CI gate.

    inventory-scan manifests FILE... [--format table|json|sarif|junit] [--fail-on SEVERITY] [--waivers FILE]
    inventory-scan docker [--host URL] [--all]
    inventory-scan kubernetes [--kubeconfig FILE] [--context NAME] [--namespace NS]...

Manifests: Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs
(e.g. ``helm template`` output), evaluated exactly as the API evaluates running pods. Exit codes: 0 no unwaived
finding at or above --fail-on (or no --fail-on), 1 there is one, 2 bad input (unreadable file, bad waiver file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..model import BackendUnavailable
from ..posture.catalog import SEVERITIES, catalog
from ..posture.engine import build_report, evaluate_container
from ..posture.formats import to_junit, to_sarif, to_table
from ..posture.report import ContainerReport, PostureReport
from ..posture.waivers import WaiverFileError, WaiverPolicy, load_waiver_file

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


def render(report: PostureReport, fmt: str, version: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report, version), indent=2) + "\n"
    if fmt == "junit":
        return to_junit(report).decode() + "\n"
    return to_table(report)


def failing(report: PostureReport, fail_on: str | None) -> int:
    if fail_on is None:
        return 0
    worst = SEVERITIES.index(fail_on)
    return sum(1 for f in report.findings if not f.waived and SEVERITIES.index(f.severity) <= worst)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inventory-scan", description=__doc__.split("\n\n")[0])
    p.add_argument("target", choices=["manifests", "docker", "kubernetes"])
    p.add_argument("files", nargs="*", help="manifest files ('-' reads stdin); manifests only")
    p.add_argument("--format", choices=["table", "json", "sarif", "junit"], default="table")
    p.add_argument("--fail-on", choices=SEVERITIES, type=str.upper, help="exit 1 on an unwaived finding this severe")
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
    try:
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
    except (InputError, WaiverFileError) as exc:
        print(f"inventory-scan: {exc}", file=sys.stderr)
        return 2
    except BackendUnavailable as exc:
        print(f"inventory-scan: {args.target} unavailable: {exc}", file=sys.stderr)
        return 2
    text = render(report, args.format, _version())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    bad = failing(report, args.fail_on)
    if bad:
        print(f"inventory-scan: {bad} unwaived finding(s) at or above {args.fail_on}", file=sys.stderr)
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

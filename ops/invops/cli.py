"""Command line: `python -m invops <area> <action> ...` (see --help of each command)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from invops import __version__, errors
from invops.errors import OpsError, UsageError
from invops.runner import Runner

EPILOG = "exit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in errors.EXIT_CODES.items())


class Parser(argparse.ArgumentParser):
    """argparse, but bad input is one line on stderr (plus exit 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        print(f"invops: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(errors.USAGE)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {value}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {value}")
    return number


def _sub(parent: argparse._SubParsersAction[Parser], name: str, help_text: str, dry_run: bool = False) -> Parser:
    p = parent.add_parser(
        name, help=help_text, description=help_text, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if dry_run:
        p.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")
    return p


def _etcd_tls(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", default="https://127.0.0.1:2379", help="etcd client URL (default %(default)s)")
    p.add_argument("--cacert", type=Path, help="CA bundle that signed the etcd server certificate")
    p.add_argument("--cert", type=Path, help="client certificate")
    p.add_argument("--key", type=Path, help="client private key")


def build_parser() -> argparse.ArgumentParser:
    root = Parser(
        prog="invops",
        description="Backup, restore, rollback and deploy for the container inventory.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"invops {__version__}")
    areas = root.add_subparsers(
        dest="area", required=True, metavar="{etcd,volume,image,config,history,rollback,deploy}", parser_class=Parser
    )

    etcd = _sub(areas, "etcd", "etcd snapshots (TLS client certs)").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    p = _sub(etcd, "snapshot", "save a snapshot into <out>/etcd-<UTC time>/ with a manifest", dry_run=True)
    _etcd_tls(p)
    p.add_argument("--out", type=Path, required=True, help="backup root directory")
    p = _sub(etcd, "verify", "verify a snapshot backup (manifest checksums + etcd snapshot status)")
    p.add_argument("backup", type=Path, help="backup directory (etcd-<time>)")
    p = _sub(etcd, "restore", "verify, then restore a snapshot into a NEW data dir", dry_run=True)
    p.add_argument("backup", type=Path)
    p.add_argument("--data-dir", type=Path, required=True, help="new (absent or empty) etcd data dir")
    p.add_argument("--name", default="default", help="member name (default %(default)s)")
    p.add_argument("--initial-advertise-peer-urls", dest="peer_url", default="http://127.0.0.1:2380")
    p.add_argument("--initial-cluster", help="default: <name>=<peer url>")
    p.add_argument("--initial-cluster-token", default="etcd-cluster-restored")
    p = _sub(etcd, "prune", "keep the newest N complete snapshots, delete the rest", dry_run=True)
    p.add_argument("--root", type=Path, required=True, help="backup root directory")
    p.add_argument("--keep", type=_positive, default=7, help="snapshots to keep (default %(default)s)")

    vol = _sub(areas, "volume", "Docker named volumes").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    p = _sub(vol, "backup", "archive a named volume (owners, modes, checksums) with a manifest", dry_run=True)
    p.add_argument("volume")
    p.add_argument("--out", type=Path, required=True, help="backup root directory")
    p = _sub(vol, "restore", "verify, restore into a new (or empty) volume, then re-read and compare", dry_run=True)
    p.add_argument("backup", type=Path)
    p.add_argument("--to", help="target volume (default: the original name; must not hold data)")
    p = _sub(vol, "verify", "verify a volume backup without restoring it")
    p.add_argument("backup", type=Path)

    img = _sub(areas, "image", "container images by digest").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    p = _sub(img, "save", "save images (exact content digests) with checksums", dry_run=True)
    p.add_argument("refs", nargs="+", metavar="IMAGE")
    p.add_argument("--out", type=Path, required=True)
    p = _sub(img, "load", "verify checksums, load, and check the loaded image digests", dry_run=True)
    p.add_argument("backup", type=Path)

    cfg = _sub(areas, "config", "Kubernetes configuration export").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    p = _sub(cfg, "export", "export Helm values/manifests and namespace objects; Secrets age-encrypted", dry_run=True)
    p.add_argument("--namespace", "-n", required=True)
    p.add_argument("--release", action="append", default=[], help="Helm release (repeatable)")
    p.add_argument("--recipient", "-r", action="append", default=[], help="age public key (repeatable)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--from-json", type=Path, help="clean a saved `kubectl get ... -o json` List instead of a cluster")
    p = _sub(cfg, "restore", "verify an export and re-apply it (secrets decrypted in memory)", dry_run=True)
    p.add_argument("backup", type=Path)
    p.add_argument("--identity", "-i", type=Path, required=True, help="age identity (private key) file")
    p.add_argument("--namespace", "-n")

    hist = _sub(areas, "history", "the history database (SQLite or PostgreSQL; DATABASE_URL)").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    url_help = "database URL (default: $DATABASE_URL); the password is never printed"
    p = _sub(hist, "backup", "consistent copy + manifest (checksum, per-table row counts)", dry_run=True)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help=url_help)
    p.add_argument("--out", type=Path, required=True, help="backup root directory")
    p = _sub(hist, "verify", "verify a backup (checksum, integrity, row counts, hash chain) or a database's chain")
    p.add_argument("backup", type=Path, nargs="?", help="backup directory (omit to check --database-url's chain)")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help=url_help)
    p = _sub(hist, "restore", "verify, restore into an empty database, compare row counts", dry_run=True)
    p.add_argument("backup", type=Path)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help=url_help)
    p.add_argument("--replace", action="store_true", help="overwrite a database that already holds data")

    rb = _sub(areas, "rollback", "roll back a release or a compose service").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    p = _sub(rb, "k8s", "helm rollback + rollout status + smoke test; kubectl rollout undo fallback", dry_run=True)
    p.add_argument("--release", required=True)
    p.add_argument("--namespace", "-n", required=True)
    p.add_argument("--revision", type=_positive, help="Helm revision (default: previous good one)")
    p.add_argument("--deployment", action="append", default=[], help="deployment to watch/undo (repeatable)")
    p.add_argument("--smoke-url", help="Nginx base URL for the smoke test, e.g. https://inventory.example")
    p.add_argument("--timeout", default="5m", help="helm/kubectl timeout (default %(default)s)")
    p = _sub(rb, "docker", "recreate a compose service with an earlier healthy image", dry_run=True)
    _compose_args(p)
    p.add_argument("--to", help="image to roll back to (default: previous healthy one from the deploy history)")

    dep = _sub(areas, "deploy", "deploy with automatic rollback").add_subparsers(
        dest="action", required=True, parser_class=Parser
    )
    p = _sub(dep, "docker", "deploy an image to a compose service; roll back if it is not healthy", dry_run=True)
    _compose_args(p)
    p.add_argument("--image", required=True, help="image reference, e.g. flask-api:0.2.0 (must exist locally)")
    p.add_argument(
        "--canary",
        action="store_true",
        help="health-check the new image in a side container first; never switch to an unhealthy one",
    )
    return root


def _compose_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", "-p", required=True, help="compose project name")
    p.add_argument("--file", "-f", type=Path, action="append", required=True, help="compose file (repeatable)")
    p.add_argument("--service", "-s", required=True)
    p.add_argument("--health-timeout", type=_seconds, default=60.0, help="seconds (default %(default)s)")
    p.add_argument(
        "--state-dir", type=Path, help="deploy history + override (default $INVOPS_STATE_DIR or ~/.local/state/invops)"
    )


def dispatch(args: argparse.Namespace) -> int:
    runner = Runner(dry_run=getattr(args, "dry_run", False))
    match (args.area, args.action):
        case ("etcd", action):
            from invops import etcd

            if action == "snapshot":
                etcd.snapshot(etcd.Endpoint(args.endpoint, args.cacert, args.cert, args.key), args.out, runner)
            elif action == "verify":
                etcd.verify(args.backup, runner)
            elif action == "restore":
                etcd.restore(
                    args.backup,
                    args.data_dir,
                    args.name,
                    args.peer_url,
                    args.initial_cluster,
                    args.initial_cluster_token,
                    runner,
                )
            else:
                etcd.prune(args.root, args.keep, runner)
        case ("volume", action):
            from invops import volume

            if action == "backup":
                volume.backup(args.volume, args.out, dry_run=runner.dry_run)
            elif action == "verify":
                volume.verify(args.backup)
            else:
                volume.restore(args.backup, args.to, dry_run=runner.dry_run)
        case ("image", action):
            from invops import images

            if action == "save":
                images.save(args.refs, args.out, dry_run=runner.dry_run)
            else:
                images.load(args.backup, dry_run=runner.dry_run)
        case ("config", action):
            from invops import config

            if action == "export":
                config.export(args.namespace, args.release, args.out, args.recipient, runner, args.from_json)
            else:
                config.restore(args.backup, args.identity, args.namespace, runner)
        case ("history", action):
            from invops import history

            if action == "verify" and args.backup:
                history.verify(args.backup)
            elif action == "verify" and args.database_url:
                history.chain(args.database_url)
            elif not args.database_url:
                raise UsageError("set --database-url or DATABASE_URL")
            elif action == "backup":
                history.backup(args.database_url, args.out, runner)
            else:
                history.restore(args.backup, args.database_url, args.replace, runner)
        case ("rollback", "k8s"):
            from invops import k8s_rollback

            k8s_rollback.rollback(
                args.release, args.namespace, args.deployment, args.revision, args.smoke_url, args.timeout, runner
            )
        case (_, "docker"):
            from invops import docker_deploy

            svc = docker_deploy.Service(
                args.project, args.file, args.service, args.state_dir or docker_deploy.default_state_dir(), runner
            )
            if args.area == "deploy":
                docker_deploy.deploy(svc, args.image, args.health_timeout, canary=args.canary)
            else:
                docker_deploy.rollback(svc, args.to, args.health_timeout)
        case _:
            raise UsageError(f"unknown command {args.area} {args.action}")
    return errors.OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except OpsError as exc:
        print(f"invops: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("invops: error: interrupted", file=sys.stderr)
        return 130

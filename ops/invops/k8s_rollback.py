"""Kubernetes rollback: helm rollback -> rollout status -> smoke test through Nginx; rollout undo as fallback."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from invops.errors import OpsError
from invops.runner import Runner, progress


def previous_revision(release: str, namespace: str, runner: Runner) -> int | None:
    """The last revision before the current one that was deployed successfully (superseded)."""
    proc = runner.run(
        ["helm", "history", release, "-n", namespace, "-o", "json", "--max", "20"],
        capture=True,
        mutating=False,
        check=not runner.dry_run,
    )
    if runner.dry_run and (proc.returncode != 0 or not proc.stdout):
        return None  # no helm or no cluster: the printed plan rolls back to "previous"
    history = json.loads(proc.stdout or b"[]")
    if len(history) < 2:
        raise OpsError(f"release {release} has no previous revision to roll back to")
    current = history[-1]["revision"]
    for entry in reversed(history[:-1]):
        if entry.get("status") in ("superseded", "deployed") and entry["revision"] != current:
            return int(entry["revision"])
    raise OpsError(f"no successfully deployed earlier revision of {release} in helm history")


def smoke(url: str, attempts: int = int(os.environ.get("INVOPS_SMOKE_ATTEMPTS", "10")), delay: float = 2.0) -> None:
    """GET <url>/healthz and <url>/api/version through Nginx; both must answer 200."""
    last = ""
    for _ in range(attempts):
        try:
            for path in ("/healthz", "/api/version"):
                with urllib.request.urlopen(url.rstrip("/") + path, timeout=5) as resp:  # noqa: S310  # nosec B310 - operator URL
                    if resp.status != 200:
                        raise OpsError(f"{path} -> {resp.status}")
            progress(f"smoke test passed: {url}")
            return
        except (OSError, urllib.error.URLError, OpsError) as exc:
            last = str(exc)
            time.sleep(delay)
    raise OpsError(f"smoke test through {url} failed: {last}")


def rollback(
    release: str,
    namespace: str,
    deployments: list[str],
    revision: int | None,
    smoke_url: str | None,
    timeout: str,
    runner: Runner,
) -> None:
    target = revision if revision is not None else previous_revision(release, namespace, runner)
    rev = [str(target)] if target is not None else []  # helm: empty revision = previous
    progress(f"helm rollback {release} to revision {target if target is not None else 'previous'}")
    try:
        runner.run(
            ["helm", "rollback", release, *rev, "-n", namespace, "--wait", "--timeout", timeout, "--cleanup-on-fail"],
            capture=not runner.dry_run,
        )
        for deploy in deployments:
            runner.run(
                ["kubectl", "rollout", "status", f"deployment/{deploy}", "-n", namespace, f"--timeout={timeout}"],
                capture=not runner.dry_run,
            )
        if smoke_url and not runner.dry_run:
            smoke(smoke_url)
        elif smoke_url:
            print(f"curl -fsS {smoke_url.rstrip('/')}/healthz && curl -fsS {smoke_url.rstrip('/')}/api/version")
    except OpsError as exc:
        if not deployments:
            raise
        progress(f"helm rollback path failed ({exc}); falling back to kubectl rollout undo")
        _undo(namespace, deployments, smoke_url, timeout, runner)
    if runner.dry_run:
        print(f"# fallback if any step above fails: kubectl rollout undo deployment/<name> -n {namespace}")


def _undo(namespace: str, deployments: list[str], smoke_url: str | None, timeout: str, runner: Runner) -> None:
    try:
        for deploy in deployments:
            runner.run(["kubectl", "rollout", "undo", f"deployment/{deploy}", "-n", namespace], capture=True)
            runner.run(
                ["kubectl", "rollout", "status", f"deployment/{deploy}", "-n", namespace, f"--timeout={timeout}"],
                capture=True,
            )
        if smoke_url:
            smoke(smoke_url)
    except OpsError as exc:
        raise OpsError(f"fallback rollout undo failed: {exc}", code=6) from exc

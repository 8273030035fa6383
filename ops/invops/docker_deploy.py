"""Docker-host deploy with automatic rollback to the last healthy image tag.

The compose file is not edited: the image of the service is pinned in an override file kept in the state
directory (`<project>.<service>.override.yml`), and the deploy history (which tags were healthy) next to it.
A deploy recreates the one service (`up -d --no-deps --no-build`), waits for Docker's health status and,
if the new container turns unhealthy, exits or does not become healthy within --health-timeout, recreates it
with the last healthy image. Requests fail from the moment the old container stops until the rolled-back
one is healthy again; that window is bounded by --health-timeout plus two container recreations.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import yaml

from invops.errors import OpsError, UsageError
from invops.runner import Runner, progress
from invops.volume import _client

ROLLED_BACK, ROLLBACK_FAILED = 5, 6


def default_state_dir() -> Path:
    return Path(os.environ.get("INVOPS_STATE_DIR") or Path.home() / ".local/state/invops")


class Service:
    def __init__(self, project: str, files: list[Path], service: str, state_dir: Path, runner: Runner) -> None:
        for f in files:
            if not f.is_file():
                raise UsageError(f"compose file not found: {f}")
        self.project, self.files, self.service, self.runner = project, files, service, runner
        self.state_dir = state_dir
        self.state_file = state_dir / f"{project}.{service}.json"
        self.override = state_dir / f"{project}.{service}.override.yml"

    # -- state -------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        if self.state_file.is_file():
            state: dict[str, Any] = json.loads(self.state_file.read_text())
            return state
        return {"last_healthy": None, "history": []}

    def record(self, image: str, healthy: bool, note: str = "") -> None:
        if self.runner.dry_run:
            return
        doc = self.state()
        doc["history"].append(
            {
                "image": image,
                "healthy": healthy,
                "note": note,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        if healthy:
            doc["last_healthy"] = image
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(doc, indent=2) + "\n")

    # -- docker ------------------------------------------------------------------------------------------
    def containers(self, client: Any) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={self.service}"]
        found: list[Any] = client.containers.list(all=True, filters={"label": labels})
        return found

    def current_image(self, client: Any) -> str | None:
        for c in self.containers(client):
            if c.status == "running" and c.attrs["State"].get("Health", {}).get("Status") == "healthy":
                return str(c.attrs["Config"]["Image"])
        return None

    def compose(self, image: str) -> None:
        """Pin `image` in the override file and recreate just this service."""
        version = None
        try:
            version = (yaml.safe_load(self.files[0].read_text()) or {}).get("version")
        except yaml.YAMLError as exc:
            raise UsageError(f"invalid compose file {self.files[0]}: {exc}") from exc
        doc: dict[str, Any] = {"services": {self.service: {"image": image}}}
        if version is not None:
            doc = {"version": version, **doc}  # compose v1 refuses to merge files of different versions
        if not self.runner.dry_run:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.override.write_text(yaml.safe_dump(doc, sort_keys=False))
        compose = shlex.split(os.environ.get("COMPOSE") or "docker-compose")
        files = [a for f in [*self.files, self.override] for a in ("-f", str(f))]
        self.runner.run(
            [*compose, "-p", self.project, *files, "up", "-d", "--no-deps", "--no-build", self.service], capture=True
        )

    def wait_healthy(self, client: Any, image: str, timeout: float) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        status = "no container"
        while time.monotonic() < deadline:
            running = [c for c in self.containers(client) if c.attrs["Config"]["Image"] == image]
            for c in running:
                c.reload()
                state = c.attrs["State"]
                health = state.get("Health")
                if health is None:
                    return False, "container has no healthcheck; cannot verify it"
                status = health.get("Status", "?")
                if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
                    return False, f"container {state.get('Status')} (exit {state.get('ExitCode')})"
                if status == "healthy":
                    return True, status
                if status == "unhealthy":
                    logs = health.get("Log") or [{}]
                    return False, f"unhealthy: {str(logs[-1].get('Output', '')).strip()[:120]}"
            time.sleep(0.5)
        return False, f"not healthy within {timeout:.0f}s (last status: {status})"


def _switch(svc: Service, client: Any, image: str, timeout: float) -> tuple[bool, str]:
    progress(f"recreating {svc.project}/{svc.service} with {image}")
    svc.compose(image)
    if svc.runner.dry_run:
        return True, "dry-run"
    progress(f"waiting up to {timeout:.0f}s for {image} to become healthy")
    return svc.wait_healthy(client, image, timeout)


def _canary(svc: Service, client: Any, image: str, timeout: float) -> tuple[bool, str]:
    """Run `image` beside the live container (same networks, env and hardening; no ports, no DNS alias) and
    wait for its health check. The live container keeps serving throughout; the canary is always removed."""
    live = [c for c in svc.containers(client) if c.status == "running"]
    if not live:
        return True, "no running container to compare with; canary skipped"
    cur = live[0].attrs
    old_env = set(client.images.get(cur["Image"]).attrs["Config"].get("Env") or [])
    env = [e for e in cur["Config"].get("Env") or [] if e not in old_env]  # what compose set, not the old image
    host = cur["HostConfig"]
    networks = list(cur["NetworkSettings"]["Networks"])
    name = f"{svc.project}-{svc.service}-canary-{int(time.time())}"
    progress(f"canary {name}: {image} on {', '.join(networks) or 'no network'}")
    container = client.containers.create(
        image,
        name=name,
        environment=env,
        user=cur["Config"].get("User") or None,
        read_only=host.get("ReadonlyRootfs", False),
        tmpfs=host.get("Tmpfs") or None,
        cap_drop=host.get("CapDrop") or None,
        cap_add=host.get("CapAdd") or None,
        security_opt=host.get("SecurityOpt") or None,
        group_add=host.get("GroupAdd") or None,
        mem_limit=host.get("Memory") or None,
        network=networks[0] if networks else "none",
        labels={"org.container-inventory.invops": "canary"},
    )
    try:
        for net in networks[1:]:
            client.networks.get(net).connect(container)
        container.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container.reload()
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if state.get("Health") is None:
                return False, "image has no healthcheck; cannot verify it"
            if state.get("Status") in ("exited", "dead"):
                return False, f"canary exited ({state.get('ExitCode')})"
            if health == "healthy":
                return True, "canary healthy"
            if health == "unhealthy":
                logs = state["Health"].get("Log") or [{}]
                return False, f"canary unhealthy: {str(logs[-1].get('Output', '')).strip()[:120]}"
            time.sleep(0.5)
        return False, f"canary not healthy within {timeout:.0f}s"
    finally:
        container.remove(force=True)


def deploy(svc: Service, image: str, timeout: float, canary: bool = False) -> None:
    client = _client()
    try:
        client.images.get(image)
    except Exception as exc:
        raise UsageError(f"image not present locally: {image}") from exc
    state = svc.state()
    running = svc.current_image(client)
    if running and running != state["last_healthy"]:
        svc.record(running, True, "found running and healthy before deploy")
        state = svc.state()
    last_healthy = state["last_healthy"] if not svc.runner.dry_run else running
    if canary and not svc.runner.dry_run:
        ok, why = _canary(svc, client, image, timeout)
        if not ok:
            svc.record(image, False, why)
            raise OpsError(
                f"{image} refused before switching ({why}); {running or 'the current version'} keeps serving",
                code=ROLLED_BACK,
            )
        progress(why)
    ok, why = _switch(svc, client, image, timeout)
    if ok:
        svc.record(image, True, "deploy")
        progress(f"deployed {image}: healthy")
        return
    svc.record(image, False, why)
    progress(f"{image} failed: {why}")
    if not last_healthy or last_healthy == image:
        raise OpsError(f"{image} is not healthy ({why}) and there is no earlier healthy version", code=ROLLBACK_FAILED)
    ok, why2 = _switch(svc, client, last_healthy, timeout)
    if not ok:
        raise OpsError(f"rollback to {last_healthy} failed too: {why2}", code=ROLLBACK_FAILED)
    svc.record(last_healthy, True, f"automatic rollback from {image}")
    raise OpsError(f"{image} failed its health check ({why}); rolled back to {last_healthy}", code=ROLLED_BACK)


def rollback(svc: Service, to: str | None, timeout: float) -> str:
    """Roll back to `to`, or to the newest healthy image other than the one running now."""
    client = _client()
    running = svc.current_image(client) or svc.state()["last_healthy"]
    target = to
    if target is None:
        for entry in reversed(svc.state()["history"]):
            if entry["healthy"] and entry["image"] != running:
                target = entry["image"]
                break
    if target is None:
        raise UsageError(f"no earlier healthy image recorded for {svc.project}/{svc.service}; use --to IMAGE")
    ok, why = _switch(svc, client, target, timeout)
    if not ok:
        svc.record(target, False, f"rollback: {why}")
        raise OpsError(f"rollback to {target} failed: {why}", code=ROLLBACK_FAILED)
    svc.record(target, True, "manual rollback")
    progress(f"rolled back {svc.project}/{svc.service} to {target}: healthy")
    return target

"""Hosts: every client of nginx-proxy names a Host nginx serves (issue 19, DNS rebinding). nginx answers only
127.0.0.1, localhost and its SERVER_NAMES; anything else gets 421. Its clients in the rendered chart: the Ingress
(the controller passes the rule's host), and the `helm test` pod (the Service's DNS name in its URL). The kubelet's
probes are the probes rule's (probes.py). A client that meets the refusal is reported with its Host."""

from __future__ import annotations

import re
from typing import Any

from ..conftest import by_kind, pod_spec
from .probes import REFUSED, SERVER_CONFIGS, env_of, nginx_location

Docs = list[dict[str, Any]]


def _nginx(docs: Docs) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The nginx-proxy container and its Service."""
    deps = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-nginx-proxy")]
    services = [d for d in by_kind(docs, "Service") if d["metadata"]["name"].endswith("-nginx-proxy")]
    if not deps or not services:
        return None
    container = next(c for c in pod_spec(deps[0])["containers"] if c["name"] == "nginx-proxy")
    return container, services[0]


def _container_port(container: dict[str, Any], service: dict[str, Any], port: int | str) -> int:
    """The container port a Service port (number or name) leads to."""
    svc_port = next(p for p in service["spec"]["ports"] if port in (p["port"], p.get("name")))
    target = svc_port.get("targetPort", svc_port["port"])
    if isinstance(target, int):
        return target
    return int(next(p["containerPort"] for p in container["ports"] if p["name"] == target))


def _clients(docs: Docs, service: dict[str, Any]) -> list[tuple[str, str, int | str, str]]:
    """(who, Host, Service port, path) of every request the rendered objects send to the nginx Service."""
    name = service["metadata"]["name"]
    out: list[tuple[str, str, int | str, str]] = []
    for ingress in by_kind(docs, "Ingress"):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                if backend["name"] == name:
                    port = backend["port"].get("name") or backend["port"]["number"]
                    out.append((f"Ingress {ingress['metadata']['name']}", rule.get("host", "*"), port, path["path"]))
    for pod in by_kind(docs, "Pod"):
        for c in pod_spec(pod)["containers"]:
            text = " ".join(c.get("command", []) + c.get("args", []))
            for host, port in re.findall(rf"https?://({re.escape(name)}(?:\.[a-z0-9.-]+)?):(\d+)", text):
                out.append((f"Pod {pod['metadata']['name']}/{c['name']}", host, int(port), "/healthz"))
    return out


def host_problems(docs: Docs) -> list[str]:
    found = _nginx(docs)
    if not found:
        return []
    container, service = found
    config = SERVER_CONFIGS["nginx-proxy"].read_text()
    problems = []
    for who, host, port, path in _clients(docs, service):
        location = nginx_location(config, _container_port(container, service, port), path, host, env_of(container))
        if location is None or REFUSED in location:
            problems.append(f"hosts: {who} sends Host {host} ({path}): 421, not one of nginx's server names")
    return problems

"""Probes: liveness (and startup, which gates it) does not depend on another pod: a restart cannot fix a
dependency, so a probe that follows one restarts every replica when the dependency fails. Readiness may follow it.

An httpGet probe is answered by the server the image runs: for images whose server config this repository builds
(nginx-proxy: nginx/nginx.conf.template), the probe's port and path are looked up in that config; a location that
proxies (proxy_pass) depends on its upstream. An exec probe that calls a URL must call the pod itself."""

from __future__ import annotations

import re
from typing import Any

from ..conftest import ROOT, pod_spec

SERVER_CONFIGS = {"nginx-proxy": ROOT / "nginx" / "nginx.conf.template"}


def _blocks(text: str, keyword: str) -> list[tuple[str, str]]:
    """(header, body) of every `keyword <header> { body }` block, braces matched."""
    out = []
    for m in re.finditer(rf"(?m)^\s*{keyword}\b([^{{;]*)\{{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append((m.group(1).strip(), text[m.end() : i - 1]))
    return out


def nginx_location(config: str, port: int, path: str) -> str | None:
    """The body of the location nginx picks for `path` on the server listening on `port` (None: nothing answers)."""
    for _, server in _blocks(config, "server"):
        if not re.search(rf"(?m)^\s*listen\s+(\S+:)?{port}\b", server):
            continue
        exact, prefix, regex = None, (-1, None), None
        for header, body in _blocks(server, "location"):
            parts = header.split(None, 1)
            if parts[0] == "=" and parts[1] == path:
                exact = body
            elif parts[0] in ("~", "~*") and regex is None:
                if re.search(parts[1], path, re.I if parts[0] == "~*" else 0):
                    regex = body
            elif len(parts) == 1 and path.startswith(parts[0]) and len(parts[0]) > prefix[0]:
                prefix = (len(parts[0]), body)
        return exact if exact is not None else regex if regex is not None else prefix[1]
    return None


def _port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container.get("ports", []) if p.get("name") == port)


def probe_problems(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in [d for d in docs if d["kind"] in ("Deployment", "Pod")]:
        for c in pod_spec(doc)["containers"]:
            for kind in ("livenessProbe", "startupProbe"):
                probe = c.get(kind)
                if not probe:
                    continue
                where = f"probes: {doc['metadata']['name']}/{c['name']} {kind}"
                for url in re.findall(r"https?://([^/:\s]+)", " ".join((probe.get("exec") or {}).get("command", []))):
                    if url not in ("127.0.0.1", "localhost", "[::1]"):
                        problems.append(f"{where} calls {url}: liveness depends on another pod")
                http = probe.get("httpGet")
                config = next((p for name, p in SERVER_CONFIGS.items() if f"/{name}" in c["image"]), None)
                if not http or not config:
                    continue
                location = nginx_location(config.read_text(), _port(c, http["port"]), http["path"])
                if location is None:
                    problems.append(f"{where}: nothing in {config.name} answers {http['path']} on {http['port']}")
                elif "proxy_pass" in location:
                    problems.append(f"{where} {http['path']} is proxied: liveness depends on another pod")
    return problems

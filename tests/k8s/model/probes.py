"""Probes: liveness (and startup, which gates it) does not depend on another pod: a restart cannot fix a
dependency, so a probe that follows one restarts every replica when the dependency fails. Readiness may follow it.

An httpGet probe is answered by the server the image runs: for images whose server config this repository builds
(nginx-proxy: nginx/nginx.conf.template), the probe's port and path are looked up in that config; a location that
proxies (proxy_pass) depends on its upstream. An exec probe that calls a URL must call the pod itself.

nginx picks the server by the Host header (the kubelet sends the pod IP unless the probe's httpHeaders name one):
the server whose server_name lists it (`${SERVER_NAMES}` as the entrypoint renders it from the container's env),
else the port's default_server, which refuses every path but /nginx-healthz with 421 (DNS rebinding). A probe
answered with that refusal never passes."""

from __future__ import annotations

import re
from typing import Any

from ..conftest import ROOT, pod_spec

SERVER_CONFIGS = {"nginx-proxy": ROOT / "nginx" / "nginx.conf.template"}
SNIPPETS = ROOT / "nginx" / "snippets"
POD_IP = "10.244.1.17"  # the Host a kubelet probe sends when its httpHeaders name none
REFUSED = "return 421"


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


def _expand(text: str) -> str:
    """The template with its snippets inlined (`include /etc/nginx/snippets/x.conf;`)."""
    return re.sub(
        r"(?m)^\s*include /etc/nginx/snippets/([\w.-]+);", lambda m: (SNIPPETS / m.group(1)).read_text(), text
    )


def server_names(env: dict[str, str]) -> list[str]:
    """nginx's names as docker-entrypoint.sh renders SERVER_NAMES (space or comma separated, lower case)."""
    return ["127.0.0.1", "localhost", *env.get("SERVER_NAMES", "").replace(",", " ").lower().split()]


def _named(names: str, host: str) -> bool:
    return any(n == host or (n.startswith("*.") and host.endswith(n[1:])) for n in names.split())


def nginx_location(
    config: str, port: int, path: str, host: str = "127.0.0.1", env: dict[str, str] | None = None
) -> str | None:
    """The body of the location nginx picks for `path` on `port` with this Host (None: nothing answers)."""
    names = " ".join(server_names(env or {}))
    servers = [
        (header, body)
        for header, body in _blocks(_expand(config).replace("${SERVER_NAMES}", names), "server")
        if re.search(rf"(?m)^\s*listen\s+(\S+:)?{port}\b", body)
    ]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    named = [s for s in servers if _named(" ".join(re.findall(r"(?m)^\s*server_name\s+([^;]*);", s[1])), host.lower())]
    default = [s for s in servers if re.search(rf"(?m)^\s*listen\s+(\S+:)?{port}\s+default_server", s[1])]
    for _, server in (named or default or servers)[:1]:
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


def probe_host(probe: dict[str, Any], port: int) -> str:
    """The Host header the kubelet sends: the probe's own, else the pod IP."""
    named = [h["value"] for h in probe["httpGet"].get("httpHeaders", []) if h["name"].lower() == "host"]
    return named[0] if named else f"{POD_IP}:{port}"


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container.get("ports", []) if p.get("name") == port)


def probe_problems(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in [d for d in docs if d["kind"] in ("Deployment", "Pod")]:
        for c in pod_spec(doc)["containers"]:
            config = next((p for name, p in SERVER_CONFIGS.items() if f"/{name}" in c["image"]), None)
            for kind in ("livenessProbe", "startupProbe", "readinessProbe"):
                probe = c.get(kind)
                if not probe:
                    continue
                where = f"probes: {doc['metadata']['name']}/{c['name']} {kind}"
                liveness = kind != "readinessProbe"
                for url in re.findall(r"https?://([^/:\s]+)", " ".join((probe.get("exec") or {}).get("command", []))):
                    if liveness and url not in ("127.0.0.1", "localhost", "[::1]"):
                        problems.append(f"{where} calls {url}: liveness depends on another pod")
                http = probe.get("httpGet")
                if not http or not config:
                    continue
                port = _port(c, http["port"])
                host = probe_host(probe, port)
                location = nginx_location(config.read_text(), port, http["path"], host, env_of(c))
                if location is None:
                    problems.append(f"{where}: nothing in {config.name} answers {http['path']} on {http['port']}")
                elif REFUSED in location:
                    problems.append(f"{where} {http['path']} with Host {host}: 421, not one of nginx's server names")
                elif liveness and "proxy_pass" in location:
                    problems.append(f"{where} {http['path']} is proxied: liveness depends on another pod")
    return problems

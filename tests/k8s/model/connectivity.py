"""Connectivity: every address a pod is configured to reach has a path through the rendered NetworkPolicies, every
port a policy opens has a client that needs it (a port opened for scraping has a ServiceMonitor/PodMonitor).

The dependencies come from what the chart configures each pod to talk to, never from the policies: DNS for every
pod, the API server for a pod that mounts a ServiceAccount token, every URL in a container's environment (values,
or the Secret a `secretKeyRef` names, as the world holds it: DATABASE_URL, OTEL_EXPORTER_OTLP_ENDPOINT, ...) and in
its command, nginx's API_UPSTREAM, the remote engines of the mounted fleet sources file, the Ingress backend, the
ServiceMonitor/PodMonitor scrape targets and an injected Vault agent's address. The cluster around the chart is a
fixed model (kube-dns, the API server, Prometheus and Grafana, the ingress controller, Vault, an OpenTelemetry
collector, PostgreSQL outside the cluster, a stranger pod, the internet), evaluated by tests/k8s/netpol.py."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlparse

import yaml

from ..conftest import NAMESPACE, by_kind, one, pod_spec
from ..netpol import Cluster, Endpoint, Flow, selector_matches
from .world import WORLDS


def _ports(*numbers: int, proto: str = "TCP") -> frozenset[tuple[int, str]]:
    return frozenset((n, proto) for n in numbers)


NAMESPACES = {n: {} for n in (NAMESPACE, "kube-system", "monitoring", "ingress-nginx", "vault", "tracing", "default")}
DNS = Endpoint(
    "kube-dns", "kube-system", {"k8s-app": "kube-dns"}, "10.244.9.10", {}, _ports(53) | _ports(53, proto="UDP")
)
PROMETHEUS = Endpoint(
    "prometheus",
    "monitoring",
    {"app.kubernetes.io/name": "prometheus", "prometheus": "kps-prometheus"},
    "10.244.9.20",
    {"web": 9090},
)
GRAFANA = Endpoint("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"}, "10.244.9.21", {"http": 3000})
INGRESS = Endpoint(
    "ingress-controller",
    "ingress-nginx",
    {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
    "10.244.9.30",
    {"http": 80, "https": 443},
)
VAULT = Endpoint(
    "vault", "vault", {"app.kubernetes.io/name": "vault", "component": "server"}, "10.244.9.40", {"http": 8200}
)
# deploy/monitoring/tracing (make tracing-up): the OpenTelemetry collector chart's pods, OTLP gRPC 4317 / HTTP 4318
OTEL = Endpoint(
    "otel-collector",
    "tracing",
    {"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector"},
    "10.244.9.60",
    {"otlp": 4317, "otlp-http": 4318},
)
# A managed PostgreSQL outside the cluster (world.SECRETS' DATABASE_URL)
POSTGRES = Endpoint("postgresql", None, {}, "10.0.5.10", {}, _ports(5432))
# listens on everything a careless policy might open
STRANGER = Endpoint(
    "stranger", "default", {"app": "other"}, "10.244.9.50", {}, _ports(*range(1, 10000)) | _ports(53, proto="UDP")
)
INTERNET = Endpoint("internet", None, {}, "203.0.113.7", {}, _ports(22, 53, 80, 443, 8200) | _ports(53, proto="UDP"))
# In-cluster services outside the release namespace, by <service>.<namespace>: the pods behind them.
SERVICES = {
    ("vault", "vault"): VAULT,
    ("otel-collector", "tracing"): OTEL,
    ("kps-prometheus", "monitoring"): PROMETHEUS,
}
# The API server as `kubectl get endpoints kubernetes` reports it, and what deploy.sh passes from that.
API_SERVER = {
    "minikube": (Endpoint("api-server", None, {}, "192.168.49.2", {"https": 8443}), 8443, ()),
    "dev": (
        Endpoint("api-server", None, {}, "10.0.0.10", {"https": 6443}),
        6443,
        ("api.apiServer.cidrs={10.96.0.1/32,10.0.0.10/32}", "api.apiServer.ports={443,6443}"),
    ),
    "prod": (
        Endpoint("api-server", None, {}, "10.0.0.20", {"https": 443}),
        443,
        ("api.apiServer.cidrs={10.96.0.1/32,10.0.0.20/32}", "api.apiServer.ports={443}"),
    ),
}
EXTRA_PORTS = {(p, "TCP") for p in (22, 80, 443, 5432, 8081, 9090, 8200, 8443, 6443, 4317, 4318)}
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]


def workload_name(doc: dict[str, Any]) -> str:
    return "helm-test" if doc["kind"] == "Pod" else _meta(doc)["labels"]["app.kubernetes.io/name"]


def chart_endpoints(docs: list[dict[str, Any]]) -> dict[str, Endpoint]:
    pods = {}
    for i, doc in enumerate(by_kind(docs, "Deployment") + by_kind(docs, "Pod")):
        name, meta = workload_name(doc), _meta(doc)
        ports = {p["name"]: p["containerPort"] for c in pod_spec(doc)["containers"] for p in c.get("ports", [])}
        pods[name] = Endpoint(name, NAMESPACE, meta["labels"], f"10.244.1.{i + 1}", ports)
    return pods


def _service_targets(docs, pods, service_name: str, port: int | str) -> list[tuple[Endpoint, int]]:
    """(pod, container port) a Service name + port (number or name) leads to."""
    svc = one(docs, "Service", service_name)
    spec_port = next(p for p in svc["spec"]["ports"] if port in (p["port"], p.get("name")))
    target = spec_port.get("targetPort", spec_port["port"])
    chosen = [p for p in pods.values() if selector_matches({"matchLabels": svc["spec"]["selector"]}, p.labels)]
    return [(p, p.named_ports[target] if isinstance(target, str) else target) for p in chosen]


def fleet_engines(docs: list[dict[str, Any]]) -> list[tuple[Endpoint, int]]:
    """Remote engines of the sources file (fleet.sources): outside the cluster, reached at their url's address."""
    out = []
    for config_map in by_kind(docs, "ConfigMap"):
        if "sources.yaml" in (config_map.get("data") or {}):
            for source in yaml.safe_load(config_map["data"]["sources.yaml"])["sources"]:
                if source["type"] in ("docker", "podman"):
                    url = urlparse(source["url"])
                    assert url.hostname and url.port, f"{source['name']}: the test model needs host:port"
                    engine = Endpoint(f"engine-{source['name']}", None, {}, url.hostname, {}, _ports(url.port))
                    out.append((engine, url.port))
    return out


def env_urls(container: dict[str, Any], secrets: dict[str, Any]) -> list[str]:
    """URLs a container is configured with: env values, and Secret keys the env takes (as the world holds them)."""
    urls = []
    for entry in container.get("env", []):
        value = entry.get("value")
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            value = (secrets.get(ref["name"]) or {}).get(ref["key"])
            assert value is not None, f"{entry['name']}: Secret {ref['name']}/{ref['key']} is not in the world"
        if value and re.match(r"^[a-z][a-z0-9+.-]*://", value):
            urls.append(value)
    return urls


def url_targets(url: str, docs, pods) -> list[tuple[Endpoint, int]]:
    """Who answers `url`: a Service of the release, a service of the world, or an address outside the cluster."""
    parsed = urlparse(url)
    host = parsed.hostname
    if not host:  # sqlite:////path: a file
        return []
    port = parsed.port or DEFAULT_PORTS.get(parsed.scheme.split("+")[0])
    assert port, f"{url}: no port and no default port for {parsed.scheme}"
    try:
        ipaddress.ip_address(host)
        known = next((e for e in (POSTGRES, INTERNET) if e.ip == host), None)
        return [(known or Endpoint(f"addr-{host}", None, {}, host, {}, _ports(port)), port)]
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        if parts[1] == NAMESPACE:
            return _service_targets(docs, pods, parts[0], port)
        assert (parts[0], parts[1]) in SERVICES, f"{url}: no such service in the test world"
        return [(SERVICES[parts[0], parts[1]], port)]
    raise AssertionError(f"{url}: the model resolves cluster services (<svc>.<ns>.svc) and IP addresses only")


def _flows_to(me: str, targets: list[tuple[Endpoint, int]]) -> set[Flow]:
    return {Flow(me, p.name, n) for p, n in targets}


def required_flows(env: str, docs: list[dict[str, Any]], pods: dict[str, Endpoint]) -> set[Flow]:
    api_server, api_port, _ = API_SERVER[env]
    secrets = dict(WORLDS[env].secrets)
    flows = {Flow(p.name, DNS.name, 53, proto) for p in pods.values() for proto in ("UDP", "TCP")}
    for doc in by_kind(docs, "Deployment") + by_kind(docs, "Pod"):
        spec, meta, me = pod_spec(doc), _meta(doc), workload_name(doc)
        if any("serviceAccountToken" in str(v.get("projected", "")) for v in spec.get("volumes", [])):
            flows.add(Flow(me, api_server.name, api_port))
        for c in spec["containers"]:
            env_vars = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            if "SOURCES_FILE" in env_vars:  # every remote engine of the fleet's sources file
                flows |= _flows_to(me, fleet_engines(docs))
            if "API_UPSTREAM" in env_vars:
                svc, port = env_vars["API_UPSTREAM"].rsplit(":", 1)
                flows |= _flows_to(me, _service_targets(docs, pods, svc, int(port)))
            for url in env_urls(c, secrets) + re.findall(r"https?://[^\s'\"]+", " ".join(c.get("command", []))):
                flows |= _flows_to(me, url_targets(url, docs, pods))
        annotations = meta.get("annotations") or {}
        if annotations.get("vault.hashicorp.com/agent-inject") == "true":
            flows |= _flows_to(me, url_targets(annotations["vault.hashicorp.com/service"], docs, pods))
    for ingress in by_kind(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port = backend["port"].get("number", backend["port"].get("name"))
                flows |= _flows_to(INGRESS.name, _service_targets(docs, pods, backend["name"], port))
    return flows | scrape_flows(docs, pods)


def scrape_flows(docs: list[dict[str, Any]], pods: dict[str, Endpoint]) -> set[Flow]:
    """What the ServiceMonitors / PodMonitors make Prometheus scrape."""
    flows = set()
    for sm in by_kind(docs, "ServiceMonitor"):
        for svc in by_kind(docs, "Service"):
            if selector_matches(sm["spec"]["selector"], svc["metadata"]["labels"]):
                for endpoint in sm["spec"]["endpoints"]:
                    if any(p.get("name") == endpoint["port"] for p in svc["spec"]["ports"]):
                        targets = _service_targets(docs, pods, svc["metadata"]["name"], endpoint["port"])
                        flows |= _flows_to(PROMETHEUS.name, targets)
    for pm in by_kind(docs, "PodMonitor"):
        for pod in pods.values():
            if selector_matches(pm["spec"]["selector"], pod.labels):
                for endpoint in pm["spec"]["podMetricsEndpoints"]:
                    if endpoint["port"] in pod.named_ports:
                        flows.add(Flow(PROMETHEUS.name, pod.name, pod.named_ports[endpoint["port"]]))
    return flows


def _external(env: str, required: set[Flow], docs, pods) -> list[Endpoint]:
    """Addresses outside the model's fixed world that the pods are configured to reach."""
    out: dict[str, Endpoint] = {e.name: e for e, _ in fleet_engines(docs)}
    names = {f.dst for f in required}
    for doc in by_kind(docs, "Deployment") + by_kind(docs, "Pod"):
        for c in pod_spec(doc)["containers"]:
            for url in env_urls(c, dict(WORLDS[env].secrets)):
                for endpoint, _ in url_targets(url, docs, pods):
                    if endpoint.namespace is None and endpoint.name in names:
                        out[endpoint.name] = endpoint
    return list(out.values())


def flow_problems(env: str, docs: list[dict[str, Any]]) -> list[str]:
    pods = chart_endpoints(docs)
    required = required_flows(env, docs, pods)
    api_server = API_SERVER[env][0]
    world = [*pods.values(), DNS, PROMETHEUS, GRAFANA, INGRESS, VAULT, OTEL, POSTGRES, STRANGER, INTERNET, api_server]
    world += [e for e in _external(env, required, docs, pods) if e.ip not in {w.ip for w in world}]
    ports = EXTRA_PORTS | {(f.port, f.protocol) for f in required}
    ports |= {(n, "TCP") for p in pods.values() for n in p.named_ports.values()}
    allowed = Cluster(NAMESPACES, docs).allowed_flows(world, ports, set(pods))
    blocked = [f"blocked: {f}" for f in sorted(required - allowed, key=str)]
    extra = []
    for f in sorted(allowed - required, key=str):
        why = " (opened for scraping, nothing scrapes it)" if f.src == PROMETHEUS.name else ""
        extra.append(f"allowed but not needed: {f}{why}")
    return blocked + extra

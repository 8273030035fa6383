"""Every pod's dependencies are allowed by the rendered NetworkPolicies, and nothing else is.

The dependencies come from what the chart configures each pod to talk to (not from the policies): DNS for every
pod, the API server for the pod that mounts a ServiceAccount token, nginx's API_UPSTREAM, the Ingress backend, the
helm test pod's URL, the ServiceMonitor/PodMonitor scrape targets and the Vault address of an injected agent. The
cluster around the chart is a fixed model (kube-dns, API server, Prometheus and Grafana, the ingress controller,
Vault, a stranger pod, the internet). The policies are evaluated by tests/k8s/netpol.py.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from .conftest import NAMESPACE, by_kind, one, pod_spec, render
from .netpol import Cluster, Endpoint, Flow, selector_matches


def _ports(*numbers: int, proto: str = "TCP") -> frozenset[tuple[int, str]]:
    return frozenset((n, proto) for n in numbers)


NAMESPACES = {n: {} for n in (NAMESPACE, "kube-system", "monitoring", "ingress-nginx", "vault", "default")}
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
# listens on everything a careless policy might open
STRANGER = Endpoint(
    "stranger", "default", {"app": "other"}, "10.244.9.50", {}, _ports(*range(1, 10000)) | _ports(53, proto="UDP")
)
INTERNET = Endpoint("internet", None, {}, "203.0.113.7", {}, _ports(22, 53, 80, 443, 8200) | _ports(53, proto="UDP"))
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
EXTRA_PORTS = {(p, "TCP") for p in (22, 80, 443, 5432, 8081, 9090, 8200, 8443, 6443)}


def chart_endpoints(docs: list[dict[str, Any]]) -> dict[str, Endpoint]:
    pods = {}
    for i, doc in enumerate(by_kind(docs, "Deployment") + by_kind(docs, "Pod")):
        meta = doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]
        name = "helm-test" if doc["kind"] == "Pod" else meta["labels"]["app.kubernetes.io/name"]
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


def required_flows(env: str, docs: list[dict[str, Any]], pods: dict[str, Endpoint]) -> set[Flow]:
    api_server, api_port, _ = API_SERVER[env]
    flows = {Flow(p.name, DNS.name, 53, proto) for p in pods.values() for proto in ("UDP", "TCP")}
    for doc in by_kind(docs, "Deployment") + by_kind(docs, "Pod"):
        spec = pod_spec(doc)
        meta = doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]
        me = "helm-test" if doc["kind"] == "Pod" else meta["labels"]["app.kubernetes.io/name"]
        if any("serviceAccountToken" in str(v.get("projected", "")) for v in spec.get("volumes", [])):
            flows.add(Flow(me, api_server.name, api_port))
        for c in spec["containers"]:
            env_vars = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            if "SOURCES_FILE" in env_vars:  # every remote engine of the fleet's sources file
                flows |= {Flow(me, engine.name, port) for engine, port in fleet_engines(docs)}
            if "API_UPSTREAM" in env_vars:
                svc, port = env_vars["API_UPSTREAM"].rsplit(":", 1)
                flows |= {Flow(me, p.name, n) for p, n in _service_targets(docs, pods, svc, int(port))}
            for svc, ns, port in re.findall(
                r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc:(\d+)", " ".join(c.get("command", []))
            ):
                assert ns == NAMESPACE
                flows |= {Flow(me, p.name, n) for p, n in _service_targets(docs, pods, svc, int(port))}
        annotations = meta.get("annotations") or {}
        if annotations.get("vault.hashicorp.com/agent-inject") == "true":
            url = urlparse(annotations["vault.hashicorp.com/service"])
            host_ns = url.hostname.split(".")[1]
            assert host_ns == VAULT.namespace, f"the chart points the agent at Vault in {host_ns}"
            flows.add(Flow(me, VAULT.name, url.port or 443))
    for ingress in by_kind(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port = backend["port"].get("number", backend["port"].get("name"))
                flows |= {Flow(INGRESS.name, p.name, n) for p, n in _service_targets(docs, pods, backend["name"], port)}
    for sm in by_kind(docs, "ServiceMonitor"):
        for svc in by_kind(docs, "Service"):
            if selector_matches(sm["spec"]["selector"], svc["metadata"]["labels"]):
                for endpoint in sm["spec"]["endpoints"]:
                    if any(p.get("name") == endpoint["port"] for p in svc["spec"]["ports"]):
                        targets = _service_targets(docs, pods, svc["metadata"]["name"], endpoint["port"])
                        flows |= {Flow(PROMETHEUS.name, p.name, n) for p, n in targets}
    for pm in by_kind(docs, "PodMonitor"):
        for pod in pods.values():
            if selector_matches(pm["spec"]["selector"], pod.labels):
                for endpoint in pm["spec"]["podMetricsEndpoints"]:
                    if endpoint["port"] in pod.named_ports:
                        flows.add(Flow(PROMETHEUS.name, pod.name, pod.named_ports[endpoint["port"]]))
    return flows


def flow_problems(env: str, docs: list[dict[str, Any]]) -> list[str]:
    pods = chart_endpoints(docs)
    required = required_flows(env, docs, pods)
    api_server = API_SERVER[env][0]
    world = [*pods.values(), DNS, PROMETHEUS, GRAFANA, INGRESS, VAULT, STRANGER, INTERNET, api_server]
    world += [engine for engine, _ in fleet_engines(docs)]
    ports = EXTRA_PORTS | {(f.port, f.protocol) for f in required}
    allowed = Cluster(NAMESPACES, docs).allowed_flows(world, ports, set(pods))
    return [f"blocked: {f}" for f in sorted(required - allowed, key=str)] + [
        f"allowed but not needed: {f}" for f in sorted(allowed - required, key=str)
    ]


def _docs(env: str, *sets: str) -> list[dict[str, Any]]:
    return render(env, *API_SERVER[env][2], *sets)


@pytest.mark.parametrize("env", ["minikube", "dev", "prod"])
def test_every_dependency_is_allowed_and_nothing_else(env):
    docs = _docs(env)
    assert flow_problems(env, docs) == []
    required = {str(f) for f in required_flows(env, docs, chart_endpoints(docs))}
    assert "nginx-proxy -> flask-api:8000/TCP" in required and "helm-test -> nginx-proxy:8080/TCP" in required
    assert ("flask-api -> vault:8200/TCP" in required) == (env == "prod")
    assert ("prometheus -> nginx-proxy:9113/TCP" in required) == (env != "minikube")  # exporter off on minikube
    assert ("ingress-controller -> nginx-proxy:8080/TCP" in required) == (env != "minikube")


def test_external_vault_by_address():
    docs = _docs("prod", "networkPolicy.vault.cidrs={10.50.0.0/24}")
    api = one(docs, "NetworkPolicy", "flask-api")["spec"]
    assert {"ipBlock": {"cidr": "10.50.0.0/24"}} in api["egress"][-1]["to"]
    assert api["egress"][-1]["ports"] == [{"protocol": "TCP", "port": 8200}]


def _policy(docs: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    return one(docs, "NetworkPolicy", suffix)


def _drop_vault_egress(docs):
    _policy(docs, "flask-api")["spec"]["egress"].pop()


def _open_api_ingress(docs):
    _policy(docs, "flask-api")["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {}}]


def _api_egress_anywhere(docs):
    _policy(docs, "flask-api")["spec"]["egress"].append({})


def _scrape_from_all_of_monitoring(docs):
    _policy(docs, "flask-api")["spec"]["ingress"][1]["from"][0].pop("podSelector")


def _dns_to_any_pod(docs):
    _policy(docs, "allow-dns")["spec"]["egress"][0].pop("to")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_vault_egress, "blocked: flask-api -> vault:8200/TCP"),
        (_open_api_ingress, "allowed but not needed: stranger -> flask-api:8000/TCP"),
        (_api_egress_anywhere, "allowed but not needed: flask-api -> internet:443/TCP"),
        (_scrape_from_all_of_monitoring, "allowed but not needed: grafana -> flask-api:8000/TCP"),
        (_dns_to_any_pod, "allowed but not needed: nginx-proxy -> stranger:53/UDP"),
    ],
)
def test_flow_check_fails_on_a_broken_policy(mutate, expected):
    docs = copy.deepcopy(_docs("prod"))
    mutate(docs)
    assert expected in flow_problems("prod", docs)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("networkPolicy.vault.namespace=hashicorp", "blocked: flask-api -> vault:8200/TCP"),
        (
            "networkPolicy.prometheus.podLabels.app\\.kubernetes\\.io/name=thanos",
            "blocked: prometheus -> flask-api:8000/TCP",
        ),
        ("auth.vault.address=https://vault.vault.svc:8300", "blocked: flask-api -> vault:8300/TCP"),
    ],
)
def test_flow_check_fails_on_values_that_break_a_dependency(setting, expected):
    assert expected in flow_problems("prod", _docs("prod", setting))


def test_policies_follow_port_changes():
    assert flow_problems("prod", _docs("prod", "nginx.port=8088", "api.port=8001")) == []

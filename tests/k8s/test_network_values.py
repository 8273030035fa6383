"""Cluster network shapes the chart must fit (issue 17, 10-12, 14): NodeLocal DNSCache, a Cilium CNI, a private
registry, an ingress controller in front of nginx. Each rule is checked on the rendered objects (NetworkPolicies
evaluated by netpol.py), never on template text."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ENVS, by_kind, one, pod_spec, render
from .model.connectivity import DNS, NAMESPACES, chart_endpoints
from .netpol import Cluster, Endpoint

# NodeLocal DNSCache: the kubelet hands pods 169.254.20.10 as their resolver (a link-local address on every node).
NODE_LOCAL_DNS = Endpoint("node-local-dns", None, {}, "169.254.20.10", {}, frozenset({(53, "UDP"), (53, "TCP")}))
# Every toggle that adds a pod or a pod-level setting; each must keep the rules below.
TOGGLES = [
    (),
    ("history.enabled=true", "history.persistence.accessModes={ReadWriteMany}"),
    (
        "history.enabled=true",
        "history.database=postgresql",
        "history.postgresql.existingSecret=pg",
        "history.postgresql.egress[0].cidr=10.0.5.0/24",
        "history.postgresql.egress[0].port=5432",
    ),
    ("auth.mode=vault",),
    ("ingress.enabled=true",),
]


def _resolvers(docs: list[dict[str, Any]]) -> dict[str, dict[str, bool]]:
    """For each pod of the chart: can it send a DNS query (UDP and TCP 53) to kube-dns / the node-local cache?"""
    cluster = Cluster(NAMESPACES, by_kind(docs, "NetworkPolicy"))
    return {
        name: {
            target.name: all(cluster.allows(pod, target, 53, proto) for proto in ("UDP", "TCP"))
            for target in (DNS, NODE_LOCAL_DNS)
        }
        for name, pod in chart_endpoints(docs).items()
    }


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("toggles", TOGGLES, ids=lambda t: ",".join(t) or "defaults")
def test_every_pod_resolves_with_kube_dns_and_with_node_local_dns(env, toggles):
    resolvers = _resolvers(render(env, *toggles))
    assert resolvers and all(all(r.values()) for r in resolvers.values()), resolvers


def test_dns_egress_is_configurable():
    # a cluster whose DNS pods carry other labels (e.g. CoreDNS installed as k8s-app=coredns) and no node-local cache
    docs = render("dev", "networkPolicy.dnsPodLabels.k8s-app=coredns", "networkPolicy.dnsCidrs=null")
    resolvers = _resolvers(docs)
    assert not any(r[NODE_LOCAL_DNS.name] for r in resolvers.values()), resolvers
    coredns = Endpoint("coredns", "kube-system", {"k8s-app": "coredns"}, "10.244.9.11", {}, DNS.listens)
    cluster = Cluster(NAMESPACES, by_kind(docs, "NetworkPolicy"))
    pods = chart_endpoints(docs)
    assert all(cluster.allows(p, coredns, 53, "UDP") and not cluster.allows(p, DNS, 53, "UDP") for p in pods.values())


def _api_server_clients(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Pods that talk to the API server (they mount a ServiceAccount token), by name -> pod labels."""
    clients = {}
    for doc in by_kind(docs, "Deployment"):
        spec = pod_spec(doc)
        projected = [v for v in spec.get("volumes", []) if "serviceAccountToken" in str(v.get("projected", ""))]
        if spec.get("automountServiceAccountToken") or projected:
            clients[doc["metadata"]["name"]] = doc["spec"]["template"]["metadata"]["labels"]
    return clients


def _cilium_allows(policy: dict[str, Any], labels: dict[str, str], port: int) -> bool:
    selector = policy["spec"]["endpointSelector"]
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return any(
        "kube-apiserver" in rule.get("toEntities", [])
        and any(int(p["port"]) == port for tp in rule.get("toPorts", []) for p in tp["ports"])
        for rule in policy["spec"]["egress"]
    )


@pytest.mark.parametrize("port", [443, 6443])
def test_cilium_reaches_the_api_server_by_entity_not_by_cidr(port):
    apis = ("cilium.io/v2/CiliumNetworkPolicy",)
    docs = render("prod", "api.apiServer.cilium=true", *TOGGLES[2], apis=apis)
    clients = _api_server_clients(docs)
    assert {n.rsplit("-", 1)[-1] for n in clients} >= {"api", "recorder"}, clients
    (policy,) = by_kind(docs, "CiliumNetworkPolicy")
    for name, labels in clients.items():
        assert _cilium_allows(policy, labels, port), name
    stranger = {"app.kubernetes.io/name": "nginx-proxy", "app.kubernetes.io/instance": "inv"}
    assert not _cilium_allows(policy, stranger, port), "only the pods that talk to the API server"


def test_cilium_without_its_api_fails_the_render_with_the_reason():
    with pytest.raises(AssertionError, match=r"does not serve cilium\.io/v2 CiliumNetworkPolicy"):
        render("dev", "api.apiServer.cilium=true")


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("toggles", TOGGLES, ids=lambda t: ",".join(t) or "defaults")
def test_every_pod_can_pull_from_a_private_registry(env, toggles):
    docs = render(env, "imagePullSecrets[0].name=regcred", *toggles)
    pods = [d for d in docs if d["kind"] in ("Deployment", "Pod", "Job", "CronJob", "StatefulSet", "DaemonSet")]
    assert pods
    for doc in pods:
        assert pod_spec(doc).get("imagePullSecrets") == [{"name": "regcred"}], doc["metadata"]["name"]


def _real_ip_from(docs: list[dict[str, Any]]) -> str | None:
    container = next(
        c for c in pod_spec(one(docs, "Deployment", "nginx-proxy"))["containers"] if c["name"] == "nginx-proxy"
    )
    return next((e["value"] for e in container.get("env", []) if e["name"] == "REAL_IP_FROM"), None)


def test_forwarded_address_is_trusted_only_from_the_ingress_controllers():
    cidrs = "ingress.controllerCidrs={10.244.0.0/16,fd00::/64}"
    assert _real_ip_from(render("dev", "ingress.enabled=true", cidrs)) == "10.244.0.0/16,fd00::/64"
    # without an Ingress nothing forwards: no address is trusted, whatever the values say
    assert _real_ip_from(render("dev", "ingress.enabled=false", cidrs)) is None
    assert _real_ip_from(render("dev", "ingress.enabled=true")) is None
    with pytest.raises(AssertionError, match="controllerCidrs"):
        render("dev", "ingress.enabled=true", "ingress.controllerCidrs={everyone}")

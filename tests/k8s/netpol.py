"""A small Kubernetes NetworkPolicy evaluator (networking.k8s.io/v1 semantics) for rendered charts.

A connection src -> dst:port/protocol is allowed when BOTH sides allow it:
- egress of src: src is not selected by any policy of its namespace with policyType Egress, or one egress rule of
  such a policy matches (peer and port);
- ingress of dst: the same with Ingress rules and src as the peer.
Peers: `ipBlock` (cidr minus except) matches the endpoint's IP; `podSelector` alone selects pods of the policy's
namespace; `namespaceSelector` alone every pod of the selected namespaces; both together the selected pods of the
selected namespaces. A rule without `to`/`from` matches every peer, without `ports` every port. Endpoints outside the
cluster (API server, external Vault) have an IP and no namespace: only ipBlocks select them, and no policy isolates
them. Ports are numbers or container-port names of the destination; `endPort` gives a range.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None  # None: outside the cluster's pod network (only ipBlock peers match)
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.1"
    named_ports: Mapping[str, int] = field(default_factory=dict)
    listens: frozenset[tuple[int, str]] = frozenset()  # extra ports a connection can reach (besides named_ports)

    def accepts(self, port: int, protocol: str) -> bool:
        return (port, protocol) in self.listens or (protocol == "TCP" and port in self.named_ports.values())

    def __hash__(self) -> int:
        return hash((self.name, self.namespace, self.ip))


@dataclass(frozen=True)
class Flow:
    src: str
    dst: str
    port: int
    protocol: str = "TCP"

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}:{self.port}/{self.protocol}"


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """LabelSelector semantics: {} selects everything; matchLabels and matchExpressions are ANDed."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


class Cluster:
    def __init__(self, namespaces: Mapping[str, Mapping[str, str]], policies: Iterable[Mapping[str, Any]]):
        # every namespace carries kubernetes.io/metadata.name (set by the API server)
        self.namespaces = {n: {**labels, "kubernetes.io/metadata.name": n} for n, labels in namespaces.items()}
        self.policies = [p for p in policies if p["kind"] == "NetworkPolicy"]

    def _policies_for(self, pod: Endpoint, direction: str) -> list[Mapping[str, Any]]:
        if pod.namespace is None:
            return []
        selected = []
        for policy in self.policies:
            spec = policy["spec"]
            types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
            if policy["metadata"]["namespace"] == pod.namespace and direction in types:
                if selector_matches(spec.get("podSelector", {}), pod.labels):
                    selected.append(policy)
        return selected

    def _peer_matches(self, peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            ip = ipaddress.ip_address(other.ip)
            if ip not in ipaddress.ip_network(block["cidr"], strict=False):
                return False
            return not any(ip in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
        if other.namespace is None:
            return False
        ns_selector = peer.get("namespaceSelector")
        if ns_selector is not None:
            if not selector_matches(ns_selector, self.namespaces.get(other.namespace, {})):
                return False
        elif other.namespace != policy_ns:
            return False
        return selector_matches(peer.get("podSelector", {}), other.labels)

    @staticmethod
    def _port_matches(ports: list[Mapping[str, Any]] | None, dst: Endpoint, port: int, protocol: str) -> bool:
        if not ports:
            return True
        for entry in ports:
            if entry.get("protocol", "TCP") != protocol:
                continue
            if "port" not in entry:
                return True
            wanted = entry["port"]
            number = dst.named_ports.get(wanted) if isinstance(wanted, str) else wanted
            if number is not None and number <= port <= entry.get("endPort", number):
                return True
        return False

    def _side_allows(
        self, pod: Endpoint, direction: str, other: Endpoint, dst: Endpoint, port: int, proto: str
    ) -> bool:
        policies = self._policies_for(pod, direction)
        if not policies:
            return True  # not isolated in this direction
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for policy in policies:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                peer_ok = not peers or any(self._peer_matches(p, policy["metadata"]["namespace"], other) for p in peers)
                if peer_ok and self._port_matches(rule.get("ports"), dst, port, proto):
                    return True
        return False

    def allows(self, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self._side_allows(src, "Egress", dst, dst, port, protocol) and self._side_allows(
            dst, "Ingress", src, dst, port, protocol
        )

    def allowed_flows(
        self, endpoints: Iterable[Endpoint], ports: Iterable[tuple[int, str]], governed: set[str]
    ) -> set[Flow]:
        """Every allowed flow to a port the destination listens on, where src or dst is one of `governed`."""
        eps = list(endpoints)
        return {
            Flow(s.name, d.name, port, proto)
            for s in eps
            for d in eps
            if s is not d and (s.name in governed or d.name in governed)
            for port, proto in ports
            if d.accepts(port, proto) and self.allows(s, d, port, proto)
        }

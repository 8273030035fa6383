"""The cluster around the chart, per environment: nodes (with zones and taints), what exists in the release
namespace before a deploy (Secrets the values name, helm's release history), and the services our pods reach.

minikube is one untainted node. dev and prod are three workers in three zones plus nodes our pods do not tolerate
(control plane, a GPU pool): the nodes that make `nodeTaintsPolicy` matter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# deploy.sh runs `helm upgrade --install` with helm's default --history-max: 10 release Secrets in the namespace.
HELM_HISTORY_MAX = 10
# Secrets the matrix's values name, as the operator created them before the deploy (docs/KUBERNETES.md, HISTORY.md).
SECRETS: Mapping[str, Mapping[str, str]] = {
    "inventory-api-token": {"token": "t"},
    "inv-container-inventory-api-token": {"token": "t"},
    "inventory-history-db": {"DATABASE_URL": "postgresql://inventory@10.0.5.10:5432/inventory"},
    "inventory-fleet-client": {"ca.pem": "", "api.pem": "", "api-key.pem": ""},
    "inventory-tls": {"tls.crt": "", "tls.key": ""},
}


@dataclass(frozen=True)
class Node:
    name: str
    zone: str
    taints: tuple[str, ...] = ()  # keys of NoSchedule taints

    @property
    def labels(self) -> dict[str, str]:
        return {"kubernetes.io/hostname": self.name, "topology.kubernetes.io/zone": self.zone}


@dataclass(frozen=True)
class World:
    env: str
    nodes: tuple[Node, ...]
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: SECRETS)
    helm_history: int = HELM_HISTORY_MAX

    @property
    def schedulable(self) -> tuple[Node, ...]:
        """Nodes a pod without tolerations can land on."""
        return tuple(n for n in self.nodes if not n.taints)


def _workers_and_tainted(prefix: str) -> tuple[Node, ...]:
    workers = tuple(Node(f"{prefix}-worker-{z}", f"zone-{z}") for z in "abc")
    return (
        *workers,
        Node(f"{prefix}-control-plane", "zone-a", ("node-role.kubernetes.io/control-plane",)),
        Node(f"{prefix}-gpu", "zone-b", ("nvidia.com/gpu",)),
    )


WORLDS = {
    "minikube": World("minikube", (Node("minikube", "minikube"),)),
    "dev": World("dev", _workers_and_tainted("dev")),
    "prod": World("prod", _workers_and_tainted("prod")),
}

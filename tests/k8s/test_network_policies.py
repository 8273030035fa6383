"""Every pod's dependencies are allowed by the rendered NetworkPolicies, and nothing else is: the cluster model's
connectivity rule (tests/k8s/model/connectivity.py) on each environment's defaults, and its mutation checks.
tests/k8s/test_cluster_model.py runs the same rule over every combination of feature toggles."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .conftest import one, render
from .model.connectivity import API_SERVER, chart_endpoints, flow_problems, required_flows


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

"""The rehearsal covers what users switch on: every combination of the chart's feature toggles (history off /
SQLite / PostgreSQL, fleet with remote sources and client certificates, Vault, KEDA, ingress, monitoring by
ServiceMonitor or PodMonitor, the tracing exporter) x minikube/dev/prod goes through ONE cluster model
(tests/k8s/model): the cluster must take every rendered object. Each rule has a mutation check below: a broken
rendered object, and the rule reports it."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import ENVS, by_kind, one, pod_spec, render
from .model import RULES
from .model.matrix import TOGGLES, combinations, label, refusal, render_all
from .model.probes import REFUSED, SERVER_CONFIGS, env_of, nginx_location

Docs = list[dict[str, Any]]


def test_every_combination_renders_or_is_refused_clearly():
    failures = []
    for (env, combo), (docs, stderr) in sorted(render_all().items()):
        expected = refusal(env, combo)
        if expected and (docs is not None or expected not in stderr):
            failures.append(f"{label(env, combo)}: must be refused with {expected!r}, got {stderr.strip()[-300:]!r}")
        if not expected and docs is None:
            failures.append(f"{label(env, combo)}: render failed: {stderr.strip()[-400:]}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("rule", list(RULES))
def test_the_cluster_takes_every_combination(rule):
    failures = []
    for (env, combo), (docs, _) in sorted(render_all().items()):
        if docs is not None:
            failures += [f"{label(env, combo)}: {p}" for p in RULES[rule](env, docs)]
    assert not failures, f"{len(failures)} problems, first 20:\n" + "\n".join(failures[:20])


def test_every_toggle_choice_meets_every_choice_of_every_other_toggle():
    assert set(TOGGLES) == {"history", "fleet", "vault", "keda", "ingress", "monitoring", "tracing"}
    for env in ENVS:
        seen = [dict(combo) for e, combo in combinations() if e == env]
        for a, b in itertools.combinations(TOGGLES, 2):
            pairs = {(c[a], c[b]) for c in seen}
            assert pairs == set(itertools.product(TOGGLES[a], TOGGLES[b])), (env, a, b)


# --- mutation checks: one per rule, on a rendered object ---------------------------------------------------------

FULL = {"history": "postgresql", "fleet": "on", "vault": "on", "keda": "on", "ingress": "on"}


def _docs(env: str, **choices: str) -> Docs:
    """A rendered combination of the matrix with these choices (the rest as FULL, as far as the matrix has it)."""
    wanted = {"monitoring": "servicemonitor", "tracing": "on", **FULL, **choices}
    rendered = render_all()
    matches = [(e, c) for e, c in rendered if e == env and all(dict(c)[k] == v for k, v in choices.items())]
    env_combo = max(matches, key=lambda ec: sum(dict(ec[1])[k] == v for k, v in wanted.items()))
    docs, stderr = rendered[env_combo]
    assert docs is not None, stderr
    return copy.deepcopy(docs)


def _dep(docs: Docs, suffix: str) -> dict[str, Any]:
    return one(docs, "Deployment", suffix)


def _container(docs: Docs, suffix: str) -> dict[str, Any]:
    return pod_spec(_dep(docs, suffix))["containers"][0]


def _pvc_quota_zero(docs: Docs) -> None:
    by_kind(docs, "ResourceQuota")[0]["spec"]["hard"]["persistentvolumeclaims"] = "0"


def _secrets_quota(docs: Docs) -> None:
    by_kind(docs, "ResourceQuota")[0]["spec"]["hard"]["secrets"] = "10"  # helm keeps 10 release Secrets alone


def _sidecar_over_limit_range(docs: Docs) -> None:
    _dep(docs, "flask-api")["spec"]["template"]["metadata"]["annotations"]["vault.hashicorp.com/agent-limits-mem"] = (
        "2Gi"
    )


def _root(docs: Docs) -> None:
    _container(docs, "-recorder")["securityContext"]["runAsNonRoot"] = False


def _host_path(docs: Docs) -> None:
    pod_spec(_dep(docs, "-recorder"))["volumes"].append({"name": "h", "hostPath": {"path": "/"}})


def _no_readiness(docs: Docs) -> None:
    _container(docs, "-recorder").pop("readinessProbe")


def _two_on_rwo(docs: Docs) -> None:
    pod_spec(_dep(docs, "flask-api")).pop("affinity")


def _ignore_taints(docs: Docs) -> None:
    for c in pod_spec(_dep(docs, "flask-api"))["topologySpreadConstraints"]:
        c.pop("nodeTaintsPolicy")


def _big_tmp(docs: Docs) -> None:
    for v in pod_spec(_dep(docs, "nginx-proxy"))["volumes"]:
        if v["name"] == "tmp":
            v["emptyDir"]["sizeLimit"] = "128Mi"


def _proxied_liveness(docs: Docs) -> None:
    c = _container(docs, "nginx-proxy")
    host = [{"name": "Host", "value": "localhost"}]  # past the Host check: the proxy_pass is what is wrong
    c["livenessProbe"] = {"httpGet": {"path": "/api/containers", "port": "web", "httpHeaders": host}}


def _readiness_without_host(docs: Docs) -> None:
    _container(docs, "nginx-proxy")["readinessProbe"]["httpGet"].pop("httpHeaders")


def _ingress_host_not_served(docs: Docs) -> None:
    one(docs, "Ingress", "nginx-proxy")["spec"]["rules"][0]["host"] = "elsewhere.example"


def _server_names_dropped(docs: Docs) -> None:
    env = _container(docs, "nginx-proxy")["env"]
    env[:] = [e for e in env if e["name"] != "SERVER_NAMES"]


def _no_db_egress(docs: Docs) -> None:
    policy = one(docs, "NetworkPolicy", "flask-api")["spec"]
    policy["egress"] = [r for r in policy["egress"] if {"protocol": "TCP", "port": 5432} not in r.get("ports", [])]


def _no_tracing_egress(docs: Docs) -> None:
    policy = one(docs, "NetworkPolicy", "flask-api")["spec"]
    policy["egress"] = [r for r in policy["egress"] if {"protocol": "TCP", "port": 4318} not in r.get("ports", [])]


def _unscraped(docs: Docs) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "Service" and d["metadata"]["name"].endswith("-recorder"))]


MUTATIONS: list[tuple[str, str, dict[str, str], Callable[[Docs], None], str]] = [
    ("quota", "minikube", {"history": "sqlite"}, _pvc_quota_zero, "persistentvolumeclaims: 1 in the namespace"),
    ("quota", "dev", {}, _secrets_quota, "quota: secrets:"),
    ("quota", "prod", {}, _sidecar_over_limit_range, "limit range: "),
    ("pod-security", "prod", {}, _root, "runAsNonRoot != true"),
    ("pod-security", "dev", {}, _host_path, "volume h of type ['hostPath']"),
    ("admission-policies", "prod", {}, _no_readiness, "rejected: ['no-healthcheck']"),
    ("admission-policies", "dev", {}, _no_readiness, "admitted with warnings: ['no-healthcheck']"),
    ("volumes", "dev", {"history": "sqlite"}, _two_on_rwo, "can land on another node"),
    ("spread", "prod", {}, _ignore_taints, "cannot be scheduled"),
    ("memory", "dev", {}, _big_tmp, "memory: inv-container-inventory-nginx-proxy/nginx-proxy"),
    ("probes", "prod", {}, _proxied_liveness, "livenessProbe /api/containers is proxied"),
    ("probes", "dev", {}, _readiness_without_host, "readinessProbe /readyz with Host 10.244.1.17:8080: 421"),
    ("hosts", "prod", {"ingress": "on"}, _ingress_host_not_served, "sends Host elsewhere.example (/): 421"),
    ("hosts", "dev", {}, _server_names_dropped, "Pod inv-container-inventory-test-api/test sends Host inv-"),
    ("connectivity", "prod", {}, _no_db_egress, "blocked: flask-api -> postgresql:5432/TCP"),
    ("connectivity", "dev", {}, _no_tracing_egress, "blocked: flask-api -> otel-collector:4318/TCP"),
    ("connectivity", "dev", {"history": "sqlite"}, _unscraped, "nothing scrapes it"),
]


def test_every_rule_has_a_mutation_check():
    assert {m[0] for m in MUTATIONS} == set(RULES)


@pytest.mark.parametrize(
    ("rule", "env", "choices", "mutate", "expected"), MUTATIONS, ids=lambda v: getattr(v, "__name__", None)
)
def test_rule_fails_on_a_broken_object(rule, env, choices, mutate, expected):
    docs = _docs(env, **choices)
    before = RULES[rule](env, docs)
    assert not any(expected in p for p in before), before
    mutate(docs)
    found = RULES[rule](env, docs)
    assert any(expected in p for p in found), found


# --- a custom host (issue 19): nginx serves the names the user sets, refuses the rest -----------------------------

CUSTOM = (
    "ingress.enabled=true",
    "ingress.host=inventory.example.com",
    "nginx.serverNames={lb.example.net,*.corp.example}",
)


def test_a_custom_host_keeps_the_probes_and_the_ingress_path_working():
    for env in ENVS:
        docs = render(env, *CUSTOM)
        assert RULES["probes"](env, docs) == [] and RULES["hosts"](env, docs) == [], env
        nginx = next(c for c in pod_spec(_dep(docs, "nginx-proxy"))["containers"] if c["name"] == "nginx-proxy")
        names = env_of(nginx)["SERVER_NAMES"].split()
        assert {"inventory.example.com", "lb.example.net", "*.corp.example"} <= set(names), names
        assert "inv-container-inventory-nginx-proxy.container-inventory.svc.cluster.local" in names
        config = SERVER_CONFIGS["nginx-proxy"].read_text()
        for host, refused in (("inventory.example.com", False), ("a.corp.example", False), ("attacker.example", True)):
            location = nginx_location(config, 8080, "/api/containers", host, env_of(nginx))
            assert location is not None and (REFUSED in location) is refused, (env, host)

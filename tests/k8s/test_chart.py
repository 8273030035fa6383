"""helm lint/template per environment, OpenAPI validation (pinned + newest), CRD schemas, chart logic."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .conftest import CHART, ENVS, NAMESPACE, SHARED, by_kind, one, pod_spec, render, run, tool

# Oldest Kubernetes minor still supported upstream that this chart targets (ValidatingAdmissionPolicy GA is 1.30;
# 1.33 is the oldest supported release at the time of writing) and the newest kubernetes-validate ships.
PINNED_K8S = "1.33.0"
NEWEST_K8S = kubernetes_validate.utils.latest_version()
CRD_SCHEMAS = SHARED / "schemas" / "crds"
BUILTIN_GROUPS = (
    "v1",
    "apps/v1",
    "policy/v1",
    "autoscaling/v2",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
)


@pytest.mark.parametrize("env", ENVS)
def test_helm_lint_strict(env):
    out = run([tool("helm"), "lint", "--strict", str(CHART), "-f", str(CHART / f"values-{env}.yaml")])
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("k8s_version", [PINNED_K8S, NEWEST_K8S])
def test_builtin_objects_validate_strictly(env, k8s_version):
    checked = 0
    for doc in render(env):
        if doc["apiVersion"] not in BUILTIN_GROUPS:
            continue
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{doc['kind']}/{doc['metadata']['name']} on {k8s_version}: {exc.message}") from None
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("env", ENVS)
def test_custom_resources_match_crd_schemas(env):
    if not CRD_SCHEMAS.is_dir():
        pytest.skip(reason=f"CRD schemas not found at {CRD_SCHEMAS} (../shared is absent)")
    customs = [d for d in render(env) if d["apiVersion"] not in BUILTIN_GROUPS]
    assert {d["kind"] for d in customs} >= {"ServiceMonitor", "PrometheusRule"}
    for doc in customs:
        group, version = doc["apiVersion"].split("/")
        schema_file = CRD_SCHEMAS / group / f"{doc['kind'].lower()}_{version}.json"
        assert schema_file.exists(), f"no CRD schema for {doc['apiVersion']} {doc['kind']}"
        jsonschema.validate(doc, json.loads(schema_file.read_text()))


def test_api_version_newest_is_really_newer():
    assert tuple(map(int, NEWEST_K8S.split(".")[:2])) > tuple(map(int, PINNED_K8S.split(".")[:2]))


# --- values.schema.json -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("api.replicas=two", "got string, want integer"),
        ("api.bogus=1", "additional properties 'bogus' not allowed"),
        ("nginx.image.tag=latest", "/nginx/image/tag"),
        ("auth.mode=plaintext", "/auth/mode"),
        ("keda.prometheusServer=prometheus:9090", "/keda/prometheusServer"),
    ],
)
def test_schema_rejects_bad_values_with_a_clear_message(setting, message):
    proc = run([tool("helm"), "template", "x", str(CHART), "--set", setting], check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


# --- chart logic: values -> objects -------------------------------------------------------------------------------


def test_keda_enabled_renders_scaledobject_with_real_metric_and_cpu_trigger():
    docs = render("dev")
    so = one(docs, "ScaledObject")
    triggers = {t["type"]: t for t in so["spec"]["triggers"]}
    assert set(triggers) == {"prometheus", "cpu"}
    assert "inventory_http_requests_total" in triggers["prometheus"]["metadata"]["query"]
    assert f'namespace="{NAMESPACE}"' in triggers["prometheus"]["metadata"]["query"]
    assert so["spec"]["minReplicaCount"] == 2 and so["spec"]["maxReplicaCount"] == 4
    behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    # KEDA owns the API's HPA; only nginx gets a plain HPA
    hpas = [h["metadata"]["name"] for h in by_kind(docs, "HorizontalPodAutoscaler")]
    assert hpas == ["inv-container-inventory-nginx-proxy"]


def test_keda_disabled_renders_a_plain_hpa_for_the_api():
    docs = render("dev", "keda.enabled=false")
    assert not by_kind(docs, "ScaledObject")
    hpa = one(docs, "HorizontalPodAutoscaler", "flask-api")
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert hpa["spec"]["behavior"]["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler():
    docs = render("prod")
    assert "replicas" not in one(docs, "Deployment", "flask-api")["spec"]
    assert render("prod", "api.autoscaling.enabled=false")[0] is not None
    fixed = one(render("prod", "api.autoscaling.enabled=false"), "Deployment", "flask-api")
    assert fixed["spec"]["replicas"] == 3


@pytest.mark.parametrize("env", ENVS)
def test_rollout_never_drops_below_the_pdb(env):
    docs = render(env)
    for dep in by_kind(docs, "Deployment"):
        assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        component = dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        pdb = one(docs, "PodDisruptionBudget", component)
        assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]


def test_rbac_is_pods_get_list_watch_only_cluster_wide_or_per_namespace():
    cluster = render("minikube")
    (role,) = by_kind(cluster, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert not by_kind(cluster, "Role")
    scoped = render("dev")
    assert not by_kind(scoped, "ClusterRole")
    roles = by_kind(scoped, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["container-inventory-dev", "shop-dev"]
    assert all(r["rules"] == role["rules"] for r in roles)
    env = {e["name"]: e.get("value") for e in pod_spec(one(scoped, "Deployment", "flask-api"))["containers"][0]["env"]}
    assert env["K8S_NAMESPACES"] == "container-inventory-dev,shop-dev" and env["INVENTORY_BACKEND"] == "kubernetes"


@pytest.mark.parametrize("env", ENVS)
def test_service_account_tokens_only_where_needed(env):
    docs = render(env)
    assert all(sa["automountServiceAccountToken"] is False for sa in by_kind(docs, "ServiceAccount"))
    for doc in by_kind(docs, "Deployment") + by_kind(docs, "Pod"):
        spec = pod_spec(doc)
        assert spec["automountServiceAccountToken"] is False
        projected = [v for v in spec.get("volumes", []) if "projected" in v]
        # only the API mounts a (projected, short-lived) token, because only it talks to the API server
        assert bool(projected) == doc["metadata"]["name"].endswith("flask-api")


@pytest.mark.parametrize(
    ("mode", "token_path", "secret_volume", "annotations"),
    [
        ("secret", "/run/secrets/api-token/token", True, False),
        ("external-secrets", "/run/secrets/api-token/token", True, False),
        ("vault", "/vault/secrets/api-token", False, True),
        ("none", None, False, False),
    ],
)
def test_token_source_switch(mode, token_path, secret_volume, annotations):
    docs = render("dev", f"auth.mode={mode}")
    dep = one(docs, "Deployment", "flask-api")
    container = pod_spec(dep)["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert all("valueFrom" not in e for e in env.values())  # never from a Secret into an env var
    assert env.get("API_TOKEN_FILE", {}).get("value") == token_path
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert ("/run/secrets/api-token" in mounts) == secret_volume
    assert all("subPath" not in m for m in container["volumeMounts"])  # subPath would block rotation
    pod_annotations = dep["spec"]["template"]["metadata"].get("annotations") or {}
    assert (pod_annotations.get("vault.hashicorp.com/agent-inject") == "true") == annotations
    assert bool(by_kind(docs, "ExternalSecret")) == (mode == "external-secrets")


def test_created_secret_requires_a_token_and_never_renders_it_elsewhere():
    proc = run([tool("helm"), "template", "x", str(CHART), "--set", "auth.secret.create=true"], check=False)
    assert proc.returncode != 0 and "auth.secret.token is required" in proc.stderr
    docs = render(None, "auth.secret.create=true", "auth.secret.token=t0ken-for-test")
    secret = one(docs, "Secret")
    assert secret["data"]["token"] == "dDBrZW4tZm9yLXRlc3Q="
    others = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
    assert "t0ken-for-test" not in others and "dDBrZW4tZm9yLXRlc3Q=" not in others


def test_namespace_has_restricted_pod_security_and_admission_label():
    ns = one(render("prod", "namespace.create=true"), "Namespace")
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["container-inventory.io/admission"] == "enforced"
    assert not by_kind(render("prod"), "Namespace")  # default: deploy.sh applies it before helm


def test_network_policies_default_deny_and_least_paths():
    docs = render("prod")
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(docs, "NetworkPolicy")}
    deny = policies["inv-container-inventory-default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    api = policies["inv-container-inventory-flask-api"]
    assert [p["port"] for p in api["egress"][0]["ports"]] == [443, 6443]
    assert all("ipBlock" in peer for peer in api["egress"][0]["to"])
    assert api["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "nginx-proxy"
    monitoring = api["ingress"][1]["from"][0]["namespaceSelector"]["matchLabels"]
    assert monitoring == {"kubernetes.io/metadata.name": "monitoring"}
    nginx = policies["inv-container-inventory-nginx-proxy"]
    ingress_ns = nginx["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert ingress_ns == {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert nginx["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "flask-api"
    custom = render("prod", "networkPolicy.ingressController.namespace=traefik")
    nginx2 = one(custom, "NetworkPolicy", "nginx-proxy")["spec"]
    peer = nginx2["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert peer["kubernetes.io/metadata.name"] == "traefik"
    assert not by_kind(render("prod", "networkPolicy.enabled=false"), "NetworkPolicy")


def test_nginx_upstream_is_the_api_service_and_exporter_toggle():
    docs = render("prod")
    nginx = pod_spec(one(docs, "Deployment", "nginx-proxy"))
    api_svc = one(docs, "Service", "flask-api")
    env = {e["name"]: e["value"] for e in nginx["containers"][0]["env"]}
    assert env["API_UPSTREAM"] == f"{api_svc['metadata']['name']}:{api_svc['spec']['ports'][0]['port']}"
    exporter = nginx["containers"][1]
    assert exporter["name"] == "nginx-exporter" and exporter["ports"][0]["containerPort"] == 9113
    assert "--nginx.scrape-uri=http://127.0.0.1:8081/stub_status" in exporter["args"]
    off = pod_spec(one(render("prod", "nginx.exporter.enabled=false"), "Deployment", "nginx-proxy"))
    assert [c["name"] for c in off["containers"]] == ["nginx-proxy"]


def test_images_use_digest_when_given():
    digest = "sha256:" + "ab" * 32
    docs = render("prod", f"api.image.digest={digest}")
    image = pod_spec(one(docs, "Deployment", "flask-api"))["containers"][0]["image"]
    assert image == f"ghcr.io/container-inventory/flask-api:0.1.0@{digest}"


def test_probes_hit_the_real_endpoints():
    docs = render("prod")
    for name in ("flask-api", "nginx-proxy"):
        c = pod_spec(one(docs, "Deployment", name))["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_monitoring_toggles_and_prometheus_rule_content():
    docs = render("prod")
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["jobLabel"] == "container-inventory.io/metrics-job"
    assert {e["port"] for e in sm["spec"]["endpoints"]} == {"http", "metrics"}
    rule = one(docs, "PrometheusRule")
    source = Path(CHART / "files" / "inventory-rules.yaml")
    if source.exists():
        assert rule["spec"]["groups"] == yaml.safe_load(source.read_text())["groups"]
        assert rule["spec"]["groups"], "alert groups must not be empty"
    off = render(
        "prod",
        "monitoring.serviceMonitor.enabled=false",
        "monitoring.prometheusRule.enabled=false",
        "monitoring.podMonitor.enabled=true",
    )
    assert not by_kind(off, "ServiceMonitor") and not by_kind(off, "PrometheusRule") and by_kind(off, "PodMonitor")


def test_ingress_optional_and_tls_needs_a_secret():
    assert not by_kind(render("minikube"), "Ingress")
    ing = one(render("prod"), "Ingress")
    assert ing["spec"]["tls"][0]["secretName"] == "inventory-tls"
    proc = run(
        [
            tool("helm"),
            "template",
            "x",
            str(CHART),
            "--set",
            "ingress.enabled=true",
            "--set",
            "ingress.tls.enabled=true",
        ],
        check=False,
    )
    assert proc.returncode != 0 and "ingress.tls.secretName is required" in proc.stderr


def test_helm_test_hook_checks_the_api_through_nginx():
    hook = [d for d in render("dev") if d["kind"] == "Pod"]
    assert len(hook) == 1 and hook[0]["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = hook[0]["spec"]["containers"][0]["command"][-1]
    assert "inv-container-inventory-nginx-proxy.container-inventory.svc:80" in script and "/api/containers" in script
    compile(script, "helm-test", "exec")  # the embedded check is valid Python


def test_notes_tell_how_to_reach_the_api():
    out = run(
        [
            tool("helm"),
            "install",
            "inv",
            str(CHART),
            "-n",
            NAMESPACE,
            "--dry-run=client",
            "-f",
            str(CHART / "values-minikube.yaml"),
        ]
    ).stdout
    assert "port-forward svc/inv-container-inventory-nginx-proxy 8080:80" in out
    assert "helm test inv -n container-inventory" in out


def _quantity(value: str | int) -> float:
    value = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


@pytest.mark.parametrize("env", ENVS)
def test_quota_fits_fully_scaled_out_workloads_during_a_rollout(env):
    """maxReplicas (+1 surge pod) of every workload must fit the namespace ResourceQuota."""
    docs = render(env)
    hard = one(docs, "ResourceQuota")["spec"]["hard"]
    scalers = {s["spec"]["scaleTargetRef"]["name"]: s["spec"] for s in by_kind(docs, "ScaledObject")}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in by_kind(docs, "HorizontalPodAutoscaler")}
    totals: dict[str, float] = {}
    pods = 0
    for dep in by_kind(docs, "Deployment"):
        name = dep["metadata"]["name"]
        replicas = (
            scalers[name]["maxReplicaCount"]
            if name in scalers
            else hpas[name]["maxReplicas"]
            if name in hpas
            else dep["spec"]["replicas"]
        ) + dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        pods += replicas
        for c in pod_spec(dep)["containers"]:
            for kind in ("requests", "limits"):
                for res, value in c["resources"][kind].items():
                    totals[f"{kind}.{res}"] = totals.get(f"{kind}.{res}", 0) + replicas * _quantity(value)
    for key, used in totals.items():
        assert used <= _quantity(hard[key]), f"{env}: {key} needs {used} at max scale, quota is {hard[key]}"
    assert pods <= int(hard["pods"])


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (the API server's YAML decoder does too)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise AssertionError(f"duplicate keys {sorted(duplicates)} at line {node.start_mark.line + 1}")
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


@pytest.mark.parametrize("env", ENVS)
def test_rendered_yaml_has_no_duplicate_keys(env):
    out = run(
        [
            tool("helm"),
            "template",
            "inv",
            str(CHART),
            "-n",
            NAMESPACE,
            "-f",
            str(CHART / f"values-{env}.yaml"),
            "--set",
            "namespace.create=true",
        ]
    ).stdout
    assert len([d for d in yaml.load_all(out, Loader=_StrictLoader) if d]) > 15

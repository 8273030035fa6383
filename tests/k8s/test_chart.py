"""helm lint/template per environment, OpenAPI validation (pinned + newest), CRD schemas, chart logic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .conftest import (
    CHART,
    ENVS,
    NAMESPACE,
    PLATFORM_APIS,
    PUSHED_IMAGES,
    by_kind,
    crd_schemas,
    one,
    pod_spec,
    render,
    run,
    template_cmd,
    tool,
)
from .model.probes import probe_problems

# Oldest Kubernetes minor still supported upstream that this chart targets (ValidatingAdmissionPolicy GA is 1.30;
# 1.33 is the oldest supported release at the time of writing) and the newest kubernetes-validate ships.
PINNED_K8S = "1.33.0"
NEWEST_K8S = kubernetes_validate.utils.latest_version()
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
    # helm lint has no --api-versions: the values override renders the CRD-backed objects for the linter too.
    cmd = [tool("helm"), "lint", "--strict", str(CHART), "-f", str(CHART / f"values-{env}.yaml")]
    cmd += ["--set-file", f"pushedImages={PUSHED_IMAGES}", "--set", f"assumeApiVersions={{{','.join(PLATFORM_APIS)}}}"]
    out = run(cmd)
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("k8s_version", [PINNED_K8S, NEWEST_K8S])
def test_builtin_objects_validate_strictly(env, k8s_version):
    checked = 0
    # as deploy.sh applies them: the namespace template too; with and without the platform's CRDs (plain HPA)
    docs = render(env, "namespace.create=true") + [
        d for d in render(env, apis=()) if d["kind"] == "HorizontalPodAutoscaler"
    ]
    for doc in docs:
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
    schemas = crd_schemas()
    customs = [d for d in render(env, "monitoring.podMonitor.enabled=true") if d["apiVersion"] not in BUILTIN_GROUPS]
    assert {d["kind"] for d in customs} == {"ScaledObject", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
    for doc in customs:
        group, version = doc["apiVersion"].split("/")
        schema_file = schemas / group / f"{doc['kind'].lower()}_{version}.json"
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
        ("images.nginx-proxy.tag=latest", "/images/nginx-proxy/tag"),
        ("images.vault.tag=", "/images/vault/tag"),
        ("namespace.admissionMode=Enforce", "/namespace/admissionMode"),
        ("auth.vault.address=vault:8200", "/auth/vault/address"),
        ("auth.mode=plaintext", "/auth/mode"),
        ("keda.prometheusServer=prometheus:9090", "/keda/prometheusServer"),
    ],
)
def test_schema_rejects_bad_values_with_a_clear_message(setting, message):
    proc = run([tool("helm"), "template", "x", str(CHART), "--set", setting], check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


# --- chart logic: values -> objects -------------------------------------------------------------------------------


def test_keda_enabled_renders_scaledobject_with_fallback_and_hpa_ownership_transfer():
    docs = render("dev")
    so = one(docs, "ScaledObject")
    queries = [t["metadata"]["query"] for t in so["spec"]["triggers"]]
    assert "inventory_http_requests_total" in queries[0] and f'namespace="{NAMESPACE}"' in queries[0]
    assert "container_cpu_usage_seconds_total" in queries[1] and 'container="flask-api"' in queries[1]
    # cpuUtilization 70 % of the 100m request, per replica
    assert [t["metadata"]["threshold"] for t in so["spec"]["triggers"]] == ["50", "0.07"]
    assert so["spec"]["minReplicaCount"] == 2 and so["spec"]["maxReplicaCount"] == 4
    assert so["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 3}
    assert keda_rejects(so) == []
    hpa_config = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]
    assert hpa_config["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    # HPA -> KEDA on an existing release: KEDA adopts the HPA the chart rendered before (same name).
    plain_hpa = one(render("dev", "keda.enabled=false"), "HorizontalPodAutoscaler", "flask-api")
    assert so["metadata"]["annotations"]["scaledobject.keda.sh/transfer-hpa-ownership"] == "true"
    assert hpa_config["name"] == plain_hpa["metadata"]["name"]
    # KEDA owns the API's HPA; only nginx gets a plain HPA
    hpas = [h["metadata"]["name"] for h in by_kind(docs, "HorizontalPodAutoscaler")]
    assert hpas == ["inv-container-inventory-nginx-proxy"]


def keda_rejects(so: dict) -> list[str]:
    """What KEDA's admission webhook (CheckFallbackValid, min <= max) refuses in a ScaledObject."""
    spec, errors = so["spec"], []
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        errors.append("minReplicaCount > maxReplicaCount")
    if "fallback" in spec:
        for trigger in spec["triggers"]:
            if trigger["type"] in ("cpu", "memory"):
                errors.append(f"fallback with a {trigger['type']} trigger")
            elif trigger.get("metricType") != "AverageValue":
                errors.append(f"fallback with metricType {trigger.get('metricType')}")
    return errors


def test_keda_fallback_check_fails_on_a_broken_scaledobject():
    so = one(render("dev"), "ScaledObject")
    cpu = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    broken = {**so, "spec": {**so["spec"], "triggers": [*so["spec"]["triggers"], cpu]}}
    assert keda_rejects(broken) == ["fallback with a cpu trigger"]
    untyped = {**so, "spec": {**so["spec"], "triggers": [{**so["spec"]["triggers"][0], "metricType": "Value"}]}}
    assert keda_rejects(untyped) == ["fallback with metricType Value"]


@pytest.mark.parametrize("replicas", [1, 5])
def test_fallback_replicas_outside_min_max_fail_the_render(replicas):
    proc = run(template_cmd("dev", f"keda.fallback.replicas={replicas}"), check=False)
    assert proc.returncode != 0 and "keda.fallback.replicas" in proc.stderr


@pytest.mark.parametrize("env", ENVS)
def test_crd_backed_objects_render_only_when_the_cluster_serves_them(env):
    bare = render(env, apis=())
    assert not [d for d in bare if d["apiVersion"].split("/")[0] in ("keda.sh", "monitoring.coreos.com")]
    # no KEDA: the API still autoscales, with the plain HPA
    assert (
        one(bare, "HorizontalPodAutoscaler", "flask-api")["spec"]["maxReplicas"]
        == one(render(env), "ScaledObject")["spec"]["maxReplicaCount"]
    )
    # offline renders name the cluster's APIs in values instead
    apis = "assumeApiVersions={keda.sh/v1alpha1/ScaledObject,monitoring.coreos.com/v1/PrometheusRule}"
    assumed = render(env, apis, apis=())
    assert {d["kind"] for d in assumed if "/v1" in d["apiVersion"] and "." in d["apiVersion"].split("/")[0]} >= {
        "ScaledObject",
        "PrometheusRule",
    }
    assert not by_kind(assumed, "ServiceMonitor")


def test_external_secrets_mode_without_the_operator_fails_clearly():
    proc = run(template_cmd("dev", "auth.mode=external-secrets", apis=()), check=False)
    assert proc.returncode != 0 and "needs the External Secrets Operator" in proc.stderr
    assert one(render("dev", "auth.mode=external-secrets"), "ExternalSecret")


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
    # dev: its own namespace first (watchOwnNamespace), then the watched application namespace
    assert [r["metadata"]["namespace"] for r in roles] == [NAMESPACE, "shop-dev"]
    assert all(r["rules"] == role["rules"] for r in roles)
    env = {e["name"]: e.get("value") for e in pod_spec(one(scoped, "Deployment", "flask-api"))["containers"][0]["env"]}
    assert env["K8S_NAMESPACES"] == f"{NAMESPACE},shop-dev" and env["INVENTORY_BACKEND"] == "kubernetes"
    alone = render("dev", "api.watchOwnNamespace=false")
    assert [r["metadata"]["namespace"] for r in by_kind(alone, "Role")] == ["shop-dev"]


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
    assert labels["container-inventory.io/admission"] == "deny"
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
    monitoring = api["ingress"][1]["from"][0]
    assert monitoring["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert monitoring["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
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
    docs = render("dev", f"images.flask-api.digest={digest}", "imageTag=1.2.3")
    image = pod_spec(one(docs, "Deployment", "flask-api"))["containers"][0]["image"]
    assert image == f"ghcr.io/container-inventory/flask-api:1.2.3@{digest}"
    nginx = pod_spec(one(docs, "Deployment", "nginx-proxy"))["containers"]
    assert [c["image"] for c in nginx] == [
        "ghcr.io/container-inventory/nginx-proxy:1.2.3",
        "ghcr.io/container-inventory/inventory-nginx-exporter:1.2.3",
    ]


def test_prod_requires_a_digest_for_every_image():
    proc = run([tool("helm"), "template", "x", str(CHART), "-f", str(CHART / "values-prod.yaml")], check=False)
    assert proc.returncode != 0 and "requireImageDigests: no digest for" in proc.stderr


def test_pushed_images_elsewhere_than_the_chart_pulls_from_fail_the_render(tmp_path):
    pushed = json.loads(PUSHED_IMAGES.read_text())
    pushed["nginx-proxy"]["repository"] = "docker.io/containerinventory/nginx-proxy"
    moved = tmp_path / "images.json"
    moved.write_text(json.dumps(pushed))
    cmd = [tool("helm"), "template", "x", str(CHART), "-f", str(CHART / "values-prod.yaml")]
    proc = run([*cmd, "--set-file", f"pushedImages={moved}"], check=False)
    assert proc.returncode != 0
    assert "nginx-proxy was pushed to docker.io/containerinventory/nginx-proxy, but the chart pulls from" in proc.stderr


@pytest.mark.parametrize("env", ENVS)
def test_liveness_is_local_to_the_pod(env):
    """The cluster model's probe rule on each environment: liveness and startup never follow another pod (an API
    outage must not restart every nginx pod); readiness may. Mutation check: tests/k8s/test_cluster_model.py."""
    assert probe_problems(render(env)) == []


ALERT_RULES = CHART.parents[1] / "monitoring" / "alerts" / "inventory-rules.yaml"  # owned by the monitoring lane


def _by_name(groups: list[dict]) -> dict[str, dict]:
    return {r.get("alert") or r.get("record"): r for g in groups for r in g["rules"]}


def rule_drift(docs: list[dict]) -> list[str]:
    """Alerts/records that differ between the rendered PrometheusRule and the monitoring lane's rules file."""
    source = _by_name(yaml.safe_load(ALERT_RULES.read_text())["groups"])
    rendered = _by_name(one(docs, "PrometheusRule")["spec"]["groups"])
    return sorted(name for name in source.keys() | rendered.keys() if source.get(name) != rendered.get(name))


def _render_chart(chart: Path) -> list[dict]:
    cmd = [tool("helm"), "template", "inv", str(chart), "-n", NAMESPACE, "--api-versions", PLATFORM_APIS[3]]
    cmd += ["--set", "monitoring.prometheusRule.enabled=true"]
    return [d for d in yaml.safe_load_all(run(cmd).stdout) if d]


def test_packaged_chart_ships_the_monitoring_lanes_alert_rules(tmp_path):
    """What a chart repository serves (helm package resolves files/ into the archive) carries exactly the rules
    file of deploy/monitoring/alerts, read from there - not the chart's files/ entry compared with itself."""
    run([tool("helm"), "package", str(CHART), "-d", str(tmp_path)])
    (package,) = tmp_path.glob("container-inventory-*.tgz")
    docs = _render_chart(package)
    assert rule_drift(docs) == []
    assert len(one(docs, "PrometheusRule")["spec"]["groups"]) == len(yaml.safe_load(ALERT_RULES.read_text())["groups"])


def test_rule_drift_check_fails_on_a_stale_copy_and_a_missing_file(tmp_path):
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart, symlinks=False)  # a real copy of the rules, as a vendored chart would have
    rules = yaml.safe_load((chart / "files" / "inventory-rules.yaml").read_text())
    dropped = rules["groups"][0]["rules"].pop()
    (chart / "files" / "inventory-rules.yaml").unlink()
    (chart / "files" / "inventory-rules.yaml").write_text(yaml.safe_dump(rules))
    assert rule_drift(_render_chart(chart)) == [dropped.get("alert") or dropped.get("record")]
    (chart / "files" / "inventory-rules.yaml").unlink()
    cmd = [tool("helm"), "template", "x", str(chart), "--api-versions", PLATFORM_APIS[3]]
    proc = run([*cmd, "--set", "monitoring.prometheusRule.enabled=true"], check=False)
    assert proc.returncode != 0 and "files/inventory-rules.yaml" in proc.stderr


def test_monitoring_toggles():
    docs = render("prod")
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["jobLabel"] == "container-inventory.io/metrics-job"
    assert {e["port"] for e in sm["spec"]["endpoints"]} == {"http", "metrics"}
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
    # a cluster without the operators: the notes say what was left out and what happens instead
    assert "keda.sh/v1alpha1/ScaledObject (the API scales with a plain CPU HPA instead)" in out
    assert "monitoring.coreos.com/v1/PrometheusRule" in out


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
    out = run(template_cmd(env, "namespace.create=true")).stdout
    assert len([d for d in yaml.load_all(out, Loader=_StrictLoader) if d]) > 15


# --- namespaces: every namespace an object lands in exists or is created -------------------------------------------


def namespace_gaps(docs: list[dict]) -> list[str]:
    """Namespaces that objects are created in (or RoleBindings name) but that nothing creates. deploy.sh applies the
    chart's namespace template (namespace.create=true) before the install, so its Namespaces are the created ones."""
    created = {d["metadata"]["name"] for d in by_kind(docs, "Namespace")}
    used = {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
    for binding in by_kind(docs, "RoleBinding") + by_kind(docs, "ClusterRoleBinding"):
        used |= {s["namespace"] for s in binding["subjects"] if s.get("namespace")}
    return sorted(used - created)


@pytest.mark.parametrize("env", ENVS)
def test_every_namespace_used_is_created(env):
    docs = render(env, "namespace.create=true")
    assert namespace_gaps(docs) == []
    watched = by_kind(docs, "Namespace")[1:]
    # someone else's namespace: created when missing, never deleted with the release, none of our labels
    assert all(ns["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"} for ns in watched)
    assert all("labels" not in ns["metadata"] for ns in watched)


def test_namespace_check_fails_when_a_watched_namespace_is_not_created():
    docs = [d for d in render("dev", "namespace.create=true") if d["metadata"]["name"] != "shop-dev"]
    assert namespace_gaps(docs) == ["shop-dev"]
    assert namespace_gaps(render("dev")) == [NAMESPACE, "shop-dev"]  # without the namespace template


def test_app_version_is_the_repository_version():
    """appVersion is the default tag of the images built here: it must be the VERSION `make images` tags."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == (CHART.parents[2] / "VERSION").read_text().strip()


def test_vault_agent_gets_the_ca_of_a_private_vault():
    docs = render("prod", "auth.vault.caSecret=vault-ca")
    annotations = one(docs, "Deployment", "flask-api")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/tls-secret"] == "vault-ca"  # pragma: allowlist secret (a Secret name)
    assert annotations["vault.hashicorp.com/ca-cert"] == "/vault/tls/ca.crt"
    assert annotations["vault.hashicorp.com/service"] == "https://vault.vault.svc:8200"
    plain = one(render("prod", "auth.vault.caSecret="), "Deployment", "flask-api")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert "vault.hashicorp.com/tls-secret" not in plain

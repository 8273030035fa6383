"""Admission policies: generated output is current, and the CEL rules, evaluated by two real CEL engines
(Google's cel-expr-python and cel-python, which must agree on every fixture), admit the rendered chart of
every environment and reject each bad manifest by exactly the rule(s) it breaks."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.cel import load_policy

from .conftest import ENVS, POLICIES, ROOT, crd_schemas, render
from .model.admission import as_pod

spec = importlib.util.spec_from_file_location("policy_generate", POLICIES / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)

SOURCE = generate.load()
RULE_IDS = [r["id"] for r in SOURCE["rules"]]
EXTRA_IDS = {"allowed-registry"}  # the install envelope's own rule (rules.yaml), no posture counterpart
POLICY = load_policy()


def _posture_ids() -> set[str]:
    """Rule ids from the posture catalog (api/inventory/posture/catalog.yaml), read without importing Flask."""
    doc = yaml.safe_load((ROOT / "api" / "inventory" / "posture" / "catalog.yaml").read_text())
    return {rule["id"] for rule in doc["rules"]}


def violations(pod: dict[str, Any]) -> set[str]:
    """Rule ids that deny the pod, by both CEL engines (tests/support/cel.py: they must agree on every fixture).
    Audit-only rules (image-not-pinned) are reported, not denied: see test_audit_only_rules_never_deny."""
    return POLICY.denials(pod)


def chart_pods(env: str) -> list[dict[str, Any]]:
    return [as_pod(d) for d in render(env) if d["kind"] in ("Deployment", "Pod", "StatefulSet", "DaemonSet", "Job")]


# --- generated output and ids -------------------------------------------------------------------------------------


def test_generated_policies_are_current():
    for path, text in generate.outputs().items():
        assert path.exists(), f"{path} missing: run python deploy/policies/generate.py"
        assert path.read_text() == text, f"{path.name} is stale: run python deploy/policies/generate.py"


def test_rule_ids_reuse_posture_ids():
    doc = yaml.safe_load((ROOT / "api" / "inventory" / "posture" / "catalog.yaml").read_text())
    pod_rules = {r["id"] for r in doc["rules"] if "kubernetes" in r["backends"]}
    assert len(pod_rules) >= 30 and pod_rules <= _posture_ids()
    assert set(RULE_IDS) - EXTRA_IDS == pod_rules  # every catalog rule for pods is an admission rule
    assert len(RULE_IDS) == len(set(RULE_IDS))


def test_both_engines_carry_the_same_expressions():
    docs = {p.name: list(yaml.safe_load_all(p.read_text())) for p in (POLICIES / "generated").glob("*.yaml")}
    source = [r["expression"] for r in SOURCE["rules"]]
    enforced = [r["expression"] for r in SOURCE["rules"] if r["id"] not in POLICY.audit]
    audited = [r["expression"] for r in SOURCE["rules"] if r["id"] in POLICY.audit]
    for kyverno in docs["kyverno-clusterpolicy.yaml"]:  # Enforce (deny namespaces) and Audit (warn/audit)
        assert [r["validate"]["cel"]["expressions"][0]["expression"] for r in kyverno["spec"]["rules"]] == source
        audit_only = {r["name"] for r in kyverno["spec"]["rules"] if r["validate"]["failureAction"] == "Audit"}
        assert POLICY.audit == {"image-not-pinned"} and POLICY.audit <= audit_only
    vap, *bindings = docs["validating-admission-policy.yaml"]
    assert [v["expression"] for v in vap["spec"]["validations"]] == enforced
    assert [a["valueExpression"].split(") ? null")[0][1:] for a in vap["spec"]["auditAnnotations"]] == audited
    assert {b["spec"]["policyName"] for b in bindings} == {vap["metadata"]["name"]}


@pytest.mark.parametrize("version", ["1.33.0", "1.37.0"])
def test_vap_validates_against_kubernetes_openapi(version):
    for doc in yaml.safe_load_all((POLICIES / "generated" / "validating-admission-policy.yaml").read_text()):
        kubernetes_validate.validate(doc, version, strict=True)


def test_kyverno_policy_matches_its_crd_schema():
    schema = json.loads((crd_schemas() / "kyverno.io" / "clusterpolicy_v1.json").read_text())
    docs = list(yaml.safe_load_all((POLICIES / "generated" / "kyverno-clusterpolicy.yaml").read_text()))
    assert len(docs) == 2
    for doc in docs:
        jsonschema.validate(doc, schema)


# --- the rendered chart is admitted -------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_rendered_chart_is_admitted(env):
    pods = chart_pods(env)
    assert len(pods) == 3  # flask-api, nginx-proxy, helm test pod
    for pod in pods:
        assert violations(pod) == set(), pod["metadata"].get("labels")


@pytest.mark.parametrize("setting", ["auth.mode=vault", "auth.mode=external-secrets", "nginx.exporter.enabled=false"])
def test_chart_variants_are_admitted(setting):
    for pod in [as_pod(d) for d in render("prod", setting) if d["kind"] in ("Deployment", "Pod")]:
        assert violations(pod) == set()


# --- bad manifests: each rejected by exactly the rule it breaks ---------------------------------------------------


def _sc(pod: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return pod["spec"]["containers"][i].setdefault("securityContext", {})


def _image(pod: dict[str, Any], change: Callable[[str], str]) -> None:
    container = pod["spec"]["containers"][0]
    container["image"] = change(container["image"])


def _volume(p: dict[str, Any], volume: dict[str, Any], mount: str) -> None:
    p["spec"]["volumes"].append(volume)
    p["spec"]["containers"][0]["volumeMounts"].append({"name": volume["name"], "mountPath": mount})


def _both(p: dict[str, Any], key: str, value: Any) -> None:
    """Set a securityContext field on the pod and every container (containers override the pod)."""
    for sc in [p["spec"]["securityContext"], *(c.setdefault("securityContext", {}) for c in p["spec"]["containers"])]:
        if value is None:
            sc.pop(key, None)
        else:
            sc[key] = value


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "run-as-root": lambda p: _sc(p).update(runAsUser=0),
    "privileged": lambda p: _sc(p).update(privileged=True),
    "host-process": lambda p: _sc(p).update(windowsOptions={"hostProcess": True}),
    "host-network": lambda p: p["spec"].update(hostNetwork=True),
    "host-pid": lambda p: p["spec"].update(hostPID=True),
    "host-ipc": lambda p: p["spec"].update(hostIPC=True),
    "added-capabilities": lambda p: _sc(p).setdefault("capabilities", {}).update(add=["CHOWN"]),
    "capabilities-beyond-baseline": lambda p: (
        _sc(p, 1 if len(p["spec"]["containers"]) > 1 else 0)
        .setdefault("capabilities", {})
        .update(add=["NET_BIND_SERVICE", "SYS_ADMIN"])
    ),
    "privilege-escalation": lambda p: _sc(p).update(allowPrivilegeEscalation=True),
    "writable-rootfs": lambda p: _sc(p).pop("readOnlyRootFilesystem"),
    "docker-socket-mounted": lambda p: _volume(
        p, {"name": "sock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}, "/var/run/docker.sock"
    ),
    "sensitive-host-mount": lambda p: _volume(p, {"name": "etc", "hostPath": {"path": "/etc"}}, "/host-etc"),
    "host-path-volume": lambda p: _volume(p, {"name": "data", "hostPath": {"path": "/srv/data"}}, "/data"),
    "restricted-volume-types": lambda p: _volume(p, {"name": "nfs", "nfs": {"server": "nfs", "path": "/"}}, "/nfs"),
    "seccomp-unconfined": lambda p: _sc(p).update(seccompProfile={"type": "Unconfined"}),
    "seccomp-not-set": lambda p: _both(p, "seccompProfile", None),
    "apparmor-unconfined": lambda p: _sc(p).update(appArmorProfile={"type": "Unconfined"}),
    "proc-mount-unmasked": lambda p: _sc(p).update(procMount="Unmasked"),
    "capabilities-not-dropped": lambda p: _sc(p).pop("capabilities"),
    "run-as-non-root-not-enforced": lambda p: _both(p, "runAsNonRoot", None),
    "selinux-override": lambda p: _sc(p).update(seLinuxOptions={"type": "spc_t"}),
    "unsafe-sysctls": lambda p: p["spec"]["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
    "privileged-host-port": lambda p: p["spec"]["containers"][0]["ports"].append({"containerPort": 80, "hostPort": 80}),
    "host-port": lambda p: p["spec"]["containers"][0]["ports"].append({"containerPort": 9000, "hostPort": 9000}),
    "probe-host": lambda p: p["spec"]["containers"][0].update(
        lifecycle={"preStop": {"tcpSocket": {"port": 8000, "host": "169.254.169.254"}}}
    ),
    "mount-propagation-shared": lambda p: p["spec"]["containers"][0]["volumeMounts"][0].update(
        mountPropagation="Bidirectional"
    ),
    "no-memory-limit": lambda p: p["spec"]["containers"][0]["resources"]["limits"].pop("memory"),
    "no-cpu-limit": lambda p: p["spec"]["containers"][0]["resources"]["limits"].pop("cpu"),
    "no-healthcheck": lambda p: p["spec"]["containers"][0].pop("readinessProbe"),
    # keep the registry, float the tag / keep the name and tag, move the registry: so both compose
    "mutable-image-tag": lambda p: _image(p, lambda img: img.split("@")[0].rsplit(":", 1)[0] + ":latest"),
    "image-not-pinned": lambda p: None,  # audit-only: the chart's tagged images break it, and are admitted
    "allowed-registry": lambda p: _image(p, lambda img: "docker.io/library/" + img.rsplit("/", 1)[1]),
}
# A deviation that necessarily breaks more than its own rule (the same pairs as the catalog's `also`).
ALSO: dict[str, set[str]] = {
    "docker-socket-mounted": {"host-path-volume", "restricted-volume-types"},
    "sensitive-host-mount": {"host-path-volume", "restricted-volume-types"},
    "host-path-volume": {"restricted-volume-types"},
    "seccomp-unconfined": {"seccomp-not-set"},
    "privileged-host-port": {"host-port"},
    "capabilities-beyond-baseline": {"added-capabilities"},
    "privileged": {"privilege-escalation"},
    "image-not-pinned": set(),
}


def expected(*rule_ids: str) -> set[str]:
    return {r for rule_id in rule_ids for r in {rule_id, *ALSO.get(rule_id, set())}} - POLICY.audit


@pytest.fixture(scope="module")
def good_pod() -> dict[str, Any]:
    pods = chart_pods("prod")
    pod = next(p for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/name") == "flask-api")
    assert violations(pod) == set()
    return pod


def test_every_rule_has_a_bad_manifest():
    assert set(MUTATIONS) == set(RULE_IDS)


@pytest.mark.parametrize("rule_id", list(MUTATIONS))
def test_bad_manifest_is_rejected_by_exactly_its_rule(good_pod, rule_id):
    pod = copy.deepcopy(good_pod)
    MUTATIONS[rule_id](pod)
    assert violations(pod) == expected(rule_id)


@pytest.mark.parametrize(
    "combo",
    [
        ("privileged", "host-network", "host-pid"),
        ("run-as-root", "writable-rootfs", "privilege-escalation", "added-capabilities"),
        ("docker-socket-mounted", "no-memory-limit", "no-healthcheck"),
        ("mutable-image-tag", "host-ipc"),
        ("seccomp-unconfined", "apparmor-unconfined", "proc-mount-unmasked", "selinux-override", "unsafe-sysctls"),
        ("host-port", "mount-propagation-shared", "no-cpu-limit", "run-as-non-root-not-enforced", "host-process"),
        tuple(
            m for m in MUTATIONS if m not in ("seccomp-not-set", "capabilities-not-dropped")
        ),  # those two undo others
    ],
)
def test_combinations_are_rejected_by_exactly_those_rules(good_pod, combo):
    pod = copy.deepcopy(good_pod)
    for rule_id in combo:
        MUTATIONS[rule_id](pod)
    assert violations(pod) == expected(*combo)


def test_root_via_pod_level_user_and_missing_non_root_are_caught(good_pod):
    pod = copy.deepcopy(good_pod)
    pod["spec"]["securityContext"]["runAsUser"] = 0
    assert violations(pod) == set()  # every container sets runAsUser 10001, which wins over the pod's
    for c in pod["spec"]["containers"]:
        c["securityContext"].pop("runAsUser")
    assert violations(pod) == {"run-as-root"}
    pod = copy.deepcopy(good_pod)
    _both(pod, "runAsNonRoot", None)
    assert violations(pod) == {"run-as-non-root-not-enforced"}  # runAsUser 10001 still proves non-root
    _both(pod, "runAsUser", None)
    assert violations(pod) == {"run-as-root", "run-as-non-root-not-enforced"}  # the image's USER decides: unknown


def test_init_containers_are_checked_too(good_pod):
    pod = copy.deepcopy(good_pod)
    init = copy.deepcopy(pod["spec"]["containers"][0])
    init.update(name="init", image="busybox")
    init.pop("livenessProbe")
    init.pop("readinessProbe")  # init containers need no probes
    pod["spec"]["initContainers"] = [init]
    assert violations(pod) == {"mutable-image-tag", "allowed-registry"}


def test_digest_pinned_and_registry_port_images(good_pod):
    pod = copy.deepcopy(good_pod)
    pod["spec"]["containers"][0]["image"] = "ghcr.io/container-inventory/flask-api@sha256:" + "a" * 64
    assert violations(pod) == set()
    pod["spec"]["containers"][0]["image"] = "ghcr.io/container-inventory/flask-api"  # untagged = latest
    assert violations(pod) == {"mutable-image-tag"}


def _vault_agent(image: str) -> dict[str, Any]:
    """The sidecar the Vault Agent injector adds (its default security context and resources)."""
    return {
        "name": "vault-agent",
        "image": image,
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}},
        "securityContext": {
            "runAsUser": 10001,
            "runAsGroup": 1000,
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def test_vault_agent_sidecar_from_the_mirrored_image_is_admitted():
    docs = render("prod")
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("flask-api"))
    agent_image = dep["spec"]["template"]["metadata"]["annotations"]["vault.hashicorp.com/agent-image"]
    pod = copy.deepcopy(as_pod(dep))
    pod["spec"]["containers"].append(_vault_agent(agent_image))
    assert violations(pod) == set()
    pod["spec"]["containers"][-1] = _vault_agent("hashicorp/vault:1.20.4")
    assert violations(pod) == {"allowed-registry"}
    pod["spec"]["containers"][-1]["name"] = "sidecar"  # the probe exemption is for the injected agent only
    assert violations(pod) == {"allowed-registry", "no-healthcheck"}


def test_audit_only_rules_never_deny(good_pod):
    pod = copy.deepcopy(good_pod)
    for c in pod["spec"]["containers"]:
        c["image"] = c["image"].split("@")[0].rsplit(":", 1)[0] + ":1.2.3"
    assert POLICY.violations(pod) == {"image-not-pinned"}  # reported (audit annotation / Kyverno Audit) ...
    assert violations(pod) == set()  # ... never denied
    for c in pod["spec"]["containers"]:
        c["image"] = c["image"].split(":")[0] + "@sha256:" + "b" * 64
    assert POLICY.violations(pod) == set()

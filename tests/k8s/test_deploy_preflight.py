"""`make deploy` on clusters that are not cluster-admin playgrounds (issue 17, 11 and 13-15, extra values files),
rehearsed with the recording stand-ins (tests/k8s/rehearsal): a namespace-scoped deployer, a private registry, a
managed API server, Vault. Rules: extra values files shape the render that is checked AND the release; a run that
cannot finish says what is missing before it changes anything; the flags let a namespace-scoped deployer through."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from .conftest import CHART, ENVS, one, render
from .rehearsal import Rehearsal, Result
from .test_rehearsal import check_app_release, dev_cluster, images_file, inventory_upgrade

MUTATING = ("apply", "create", "upgrade", "delete", "patch", "label", "annotate", "rollback", "install")


def mutating_calls(r: Result) -> list[str]:
    """kubectl/helm calls that change the cluster (`kubectl auth can-i create ...` only asks)."""
    calls = [c for c in r.calls if c.tool in ("kubectl", "helm") and "can-i" not in c.argv]
    return [f"{c.tool} {' '.join(c.argv)}" for c in calls if set(c.argv) & set(MUTATING)]


def values_file(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def prerender(r: Result) -> list[str]:
    """The `helm template` of the whole chart deploy.sh runs before touching the cluster."""
    calls = [c.argv for c in r.by("helm") if c.argv[:1] == ["template"] and "--show-only" not in c.argv]
    assert len(calls) == 1, r.explain()
    return calls[0]


# --- extra values files ---


def test_extra_values_files_reach_the_prerender_and_the_release(tmp_path):
    a = values_file(tmp_path / "a.yaml", {"api": {"logLevel": "DEBUG"}})
    b = values_file(tmp_path / "b.yaml", {"imagePullSecrets": [{"name": "regcred"}]})
    world = dev_cluster(platform=True)
    world["contexts"]["dev"]["secrets"]["container-inventory/regcred"] = [".dockerconfigjson"]
    r = Rehearsal(tmp_path / "w", world).make("deploy", "ENV=dev", f"VALUES={a},{b}")
    check_app_release(r, "dev", "dev", extra_values=(str(a), str(b)))  # after values-dev.yaml, in order
    args = prerender(r)
    assert [args[i + 1] for i, x in enumerate(args) if x == "-f"][1:] == [str(a), str(b)], args


def test_an_extra_values_file_that_does_not_render_stops_before_the_cluster(tmp_path):
    bad = values_file(tmp_path / "bad.yaml", {"api": {"replicas": "two"}})
    r = Rehearsal(tmp_path / "w", dev_cluster(platform=True)).make("deploy", "ENV=dev", f"VALUES={bad}")
    assert r.rc != 0 and "does not render" in r.stderr, r.explain()
    assert not [c for c in r.calls if c.tool == "kubectl"] and not mutating_calls(r), r.explain()


# --- a namespace-scoped deployer ---


def namespace_admin() -> dict[str, Any]:
    """dev, where the deployer administers only the release namespace and the watched one (a RoleBinding to admin
    in each, as a platform team hands out); both namespaces exist, labelled by a cluster admin."""
    world = dev_cluster(platform=True)
    cluster = world["contexts"]["dev"]
    cluster["namespaces"]["shop-dev"] = {}
    cluster["rbac"] = {"namespaces": ["container-inventory", "shop-dev"]}
    return world


def test_without_the_rights_a_run_needs_nothing_is_applied_and_each_missing_right_is_named(tmp_path):
    r = Rehearsal(tmp_path, namespace_admin()).make("deploy", "ENV=dev", "SKIP_POLICIES=yes")
    assert r.rc != 0 and not mutating_calls(r), r.explain()
    assert "nothing was applied" in r.stderr, r.explain()
    for right, hint in (
        ("create namespaces (cluster-scoped)", "--skip-namespaces"),
        ("get endpoints in namespace default", "--api-server-cidrs"),
    ):
        line = next((x for x in r.stderr.splitlines() if right in x), None)
        assert line and hint in line, (right, r.stderr)


def test_a_namespace_scoped_deployer_gets_through_with_the_flags(tmp_path):
    r = Rehearsal(tmp_path, namespace_admin()).make(
        "deploy", "ENV=dev", "SKIP_POLICIES=yes", "SKIP_NAMESPACES=yes", "API_SERVER_CIDRS=10.0.0.0/28,10.96.0.1/32"
    )
    assert r.rc == 0, r.explain()
    release = inventory_upgrade(r).extra["release"]
    assert "api.apiServer.cidrs={10.0.0.0/28,10.96.0.1/32}" in release["sets"], release["sets"]
    asked = {(c.extra["can_i"]["verb"], c.extra["can_i"]["resource"]) for c in r.by("kubectl") if "can_i" in c.extra}
    # the preflight asked for what helm then did: every kind of the release, in its namespaces
    assert {
        ("create", "deployments.apps"),
        ("create", "roles.rbac.authorization.k8s.io"),
        ("update", "secrets"),
    } <= asked


def test_a_prod_deployer_without_cluster_rights_is_told_about_the_clusterrole(tmp_path):
    """prod watches every namespace (a ClusterRole): a namespace admin cannot install it, and hears so first."""
    pushed = images_file(tmp_path / "images.json")
    args = ("SKIP_POLICIES=yes", "SKIP_NAMESPACES=yes", "API_SERVER_CIDRS=10.0.0.0/28", f"IMAGES_FILE={pushed}")
    r = Rehearsal(tmp_path / "w", namespace_admin()).make("deploy", "ENV=prod", "CONFIRM_PROD=yes", *args)
    assert r.rc != 0 and not mutating_calls(r), r.explain()
    assert "create clusterroles.rbac.authorization.k8s.io (cluster-scoped)" in r.stderr, r.stderr


# --- API server: CIDRs or Cilium ---


def test_cilium_needs_no_endpoint_read_and_renders_the_entity_policy(tmp_path):
    world = dev_cluster(platform=True)
    cluster = world["contexts"]["dev"]
    cluster["apis"] += ["cilium.io/v2", "cilium.io/v2/CiliumNetworkPolicy"]
    cluster["resources"] += ["ciliumnetworkpolicies.cilium.io"]
    r = Rehearsal(tmp_path, world).make("deploy", "ENV=dev", "CILIUM=yes")
    assert r.rc == 0, r.explain()
    assert not [c for c in r.by("kubectl") if c.argv[-3:-1] == ["endpoints", "kubernetes"] or "endpoints" in c.argv]
    assert "api.apiServer.cilium=true" in inventory_upgrade(r).extra["release"]["sets"]
    # without Cilium in the cluster the flag is refused before anything is applied
    del cluster["resources"][-1]
    r = Rehearsal(tmp_path / "b", world).make("deploy", "ENV=dev", "CILIUM=yes")
    assert r.rc != 0 and "does not serve ciliumnetworkpolicies.cilium.io" in r.stderr and not mutating_calls(r)


# --- private registry ---


def test_a_missing_pull_secret_is_named_before_the_atomic_rollback(tmp_path):
    world = dev_cluster(platform=True)
    world["contexts"]["dev"]["private_registry"] = True
    pull = values_file(tmp_path / "pull.yaml", {"imagePullSecrets": [{"name": "regcred"}]})
    r = Rehearsal(tmp_path / "w", world).make("deploy", "ENV=dev", f"VALUES={pull}")
    assert r.rc != 0 and not mutating_calls(r), r.explain()
    assert "imagePullSecret container-inventory/regcred is missing" in r.stderr, r.stderr
    world["contexts"]["dev"]["secrets"]["container-inventory/regcred"] = [".dockerconfigjson"]
    r = Rehearsal(tmp_path / "w2", world).make("deploy", "ENV=dev", f"VALUES={pull}")
    check_app_release(r, "dev", "dev", extra_values=(str(pull),))  # every pod, the helm test hook included, pulls


# --- Vault ---


def _prod(tmp: Path, world: dict[str, Any]) -> Result:
    pushed = images_file(tmp / "images.json")
    return Rehearsal(tmp / "w", world).make("deploy", "ENV=prod", "CONFIRM_PROD=yes", f"IMAGES_FILE={pushed}")


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        (lambda c: c.update(webhooks=[]), "no Vault Agent injector in the cluster"),
        (lambda c: c["secrets"].pop("container-inventory/vault-ca"), "Secret container-inventory/vault-ca (Vault's CA"),
    ],
    ids=["no-injector", "no-ca"],
)
def test_vault_prerequisites_are_checked_before_anything_is_applied(tmp_path, breaks, message):
    world = dev_cluster(platform=True)
    breaks(world["contexts"]["dev"])
    r = _prod(tmp_path, world)
    assert r.rc != 0 and message in r.stderr and not mutating_calls(r), r.explain()


@pytest.mark.parametrize("env", ENVS)
def test_the_vault_agent_speaks_the_servers_scheme_and_trusts_its_ca(env):
    """An in-cluster Vault at https needs its (private) CA in the agent; the hashicorp/vault chart's own default is
    plain http, so an address without a configured CA must not say https."""
    docs = render(env, "auth.mode=vault")
    annotations = one(docs, "Deployment", "flask-api")["spec"]["template"]["metadata"]["annotations"]
    url = urlparse(annotations["vault.hashicorp.com/service"])
    assert url.scheme in ("http", "https") and url.port, url
    if url.scheme == "https" and url.hostname and url.hostname.endswith(".svc"):
        assert annotations.get("vault.hashicorp.com/tls-secret"), f"{env}: https to {url.hostname} without a CA"
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["auth"]["vault"]
    assert not (urlparse(defaults["address"]).scheme == "https" and not defaults["caSecret"])

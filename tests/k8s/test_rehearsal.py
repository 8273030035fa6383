"""First-run rehearsal of the cluster paths (no API server runs here): `make minikube-up`, `make deploy ENV=...`
and `make monitoring-up` run for real, as users and Jenkins call them, against recording stand-ins for kubectl,
helm, minikube and docker (tests/k8s/rehearsal). Each check reads the recording; the mutation tests run the same
scenario on a deliberately broken copy of the scripts and prove the check fails."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CHART, ROOT
from .rehearsal import Rehearsal, Result, copy_tree
from .rehearsal.state import new_cluster, new_world
from .selection import merged_values, unselected

VERSION = (ROOT / "VERSION").read_text().strip()
PROFILE = "container-inventory"
KPS_VALUES = "deploy/monitoring/values-kube-prometheus-stack.yaml"
OPERATORS = {"keda", "kube-prometheus-stack", "kyverno"}


def _values(env: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / f"values-{env}.yaml").read_text()) or {}


def _registry() -> str:
    return yaml.safe_load((CHART / "values.yaml").read_text())["imageRegistry"]


# --- worlds ---------------------------------------------------------------------------------------------------


def fresh_machine() -> dict[str, Any]:
    """A developer machine: Docker with the base image, minikube installed, no cluster yet."""
    world = new_world()
    world["docker_images"] = ["debian:bookworm-slim"]
    return world


def dev_cluster(platform: bool) -> dict[str, Any]:
    """The current context `dev`: shared (operators installed by the platform team) or empty; the monitoring
    namespace holds the two Secrets docs/MONITORING.md asks for, the release namespace the API token."""
    world = new_world()
    cluster = new_cluster(
        ["default", "kube-system", "kube-public", "kube-node-lease", "ingress-nginx", "monitoring"], platform=platform
    )
    # docs/KUBERNETES.md: the release namespace and the API token Secret exist before the first deploy.
    cluster["namespaces"]["container-inventory"] = {}
    cluster["secrets"] = {
        "monitoring/grafana-admin": ["admin-password", "admin-user"],
        "monitoring/alertmanager-inventory-receivers": ["pagerduty-routing-key", "slack-oncall-url", "slack-team-url"],
        "container-inventory/inventory-api-token": ["token"],
        "container-inventory/vault-ca": ["ca.crt"],  # prod's auth.vault.caSecret
    }
    cluster["webhooks"] = ["vault-agent-injector-cfg"]  # the hashicorp/vault chart's injector
    if platform:
        for ns, name in (("keda", "keda"), ("monitoring", "kps"), ("kyverno", "kyverno")):
            cluster["namespaces"].setdefault(ns, {})
            chart = {"kps": "kube-prometheus-stack"}.get(name, name)
            cluster["releases"][f"{ns}/{name}"] = {"chart_name": chart, "revision": 1}
    world["contexts"]["dev"] = cluster
    world["current_context"] = "dev"
    return world


def images_file(path: Path, registry: str | None = None, digests: bool = True) -> Path:
    """What `make push` (and the mirror job) record in reports/images.json: every image the chart runs."""
    registry = registry or _registry()
    names = yaml.safe_load((CHART / "values.yaml").read_text())["images"]
    doc = {
        name: {
            "repository": f"{registry}/{name}",
            "tag": VERSION,
            "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest() if digests else "",
        }
        for name in [*names, "socket-proxy"]
    }
    path.write_text(json.dumps(doc))
    return path


# --- checks (each raises AssertionError; the mutation tests expect exactly that) --------------------------------


def inventory_upgrade(r: Result) -> Any:
    ups = [c for c in r.upgrades() if c.extra["release"]["chart"] == str(r.root / CHART.relative_to(ROOT))]
    assert len(ups) == 1, f"expected one helm upgrade of our chart\n{r.explain()}"
    return ups[0]


def check_namespaces_before_use(r: Result, namespace: str = "container-inventory") -> None:
    up = r.calls.index(inventory_upgrade(r))
    applied = [
        i
        for i, c in enumerate(r.calls)
        if c.tool == "kubectl"
        and c.rc == 0
        and any(a["kind"] == "Namespace" and a["name"] == namespace for a in c.extra.get("applied", []))
    ]
    assert applied and applied[0] < up, "the release namespace must be created (applied) before helm upgrade"


def check_app_release(r: Result, env: str, context: str, extra_values: tuple[str, ...] = ()) -> dict[str, Any]:
    assert r.rc == 0, r.explain()
    up = inventory_upgrade(r)
    release = up.extra["release"]
    assert release["namespace"] == "container-inventory"
    wanted = [str(r.root / CHART.relative_to(ROOT) / f"values-{env}.yaml"), *extra_values]
    assert release["values"] == wanted, f"helm upgrade must get values-{env}.yaml, got {release['values']}"
    assert release["atomic"] and release["wait"], "helm upgrade must be --atomic --wait"
    check_namespaces_before_use(r)
    tested = [c for c in r.by("helm") if c.startswith("--kube-context", context, "test") or c.argv[:1] == ["test"]]
    assert tested and r.calls.index(tested[0]) > r.calls.index(up), "helm test must run after the upgrade"
    assert "container-inventory/inventory" in r.cluster(context)["releases"]
    return release


def check_minikube_first_run(r: Result) -> None:
    check_app_release(r, "minikube", PROFILE)
    (start,) = [c for c in r.by("minikube") if "start" in c.argv]
    size = _values("minikube")["minikube"]
    assert start.extra["profile"]["cpus"] == str(size["cpus"]), f"minikube profile CPUs not as values: {start.extra}"
    assert start.extra["profile"]["memory"] == str(size["memory"]), f"minikube memory not as values: {start.extra}"
    assert start.extra["profile"]["cni"] == "calico", "NetworkPolicies need an enforcing CNI"
    built = {t for c in r.by("docker") if c.argv[:1] == ["build"] for t in c.extra["tags"]}
    assert f"flask-api:{VERSION}" in built and f"nginx-proxy:{VERSION}" in built, built
    release = inventory_upgrade(r).extra["release"]
    loaded = r.cluster(PROFILE)["pull_policy_never_images"]
    for image in release["images"]:
        assert image["policy"] == "Never" and image["image"] in loaded, (image, loaded)
        assert image["image"].endswith(f":{VERSION}")
    loads = [c for c in r.by("minikube") if "load" in c.argv]
    assert loads and max(map(r.calls.index, loads)) < r.calls.index(inventory_upgrade(r)), "images loaded before helm"
    check_one_monitoring_release(r, PROFILE)
    check_prometheus_selects_our_monitors(r, PROFILE)
    # The generated Grafana password goes through a file, never argv.
    assert not [c for c in r.calls if any("admin-password=" in a and "--from-file" not in a for a in c.argv)]


def check_one_monitoring_release(r: Result, context: str) -> None:
    releases = r.cluster(context)["releases"]
    kps = {k: v for k, v in releases.items() if v["chart_name"] == "kube-prometheus-stack"}
    assert list(kps) == ["monitoring/kps"], f"one kube-prometheus-stack release (monitoring/kps), got {list(kps)}"
    ours = str(r.root / KPS_VALUES)
    installs = [c for c in r.upgrades() if "prometheus-community/kube-prometheus-stack" in c.argv]
    assert installs and all(ours in c.extra["release"]["values"] for c in installs), "our kps values on every install"
    # KEDA's Prometheus trigger points at that release's Prometheus (fullnameOverride of our values).
    fullname = yaml.safe_load((ROOT / KPS_VALUES).read_text())["fullnameOverride"]
    server = yaml.safe_load((CHART / "values.yaml").read_text())["keda"]["prometheusServer"]
    assert server == f"http://{fullname}-prometheus.monitoring.svc:9090", server


def check_prometheus_selects_our_monitors(r: Result, context: str) -> None:
    """The ServiceMonitor / PrometheusRule our release installed carry labels THE kube-prometheus-stack release
    (as installed, with the values files it got) selects - also with that chart's default selectors."""
    releases = r.cluster(context)["releases"]
    (kps,) = [k for k, v in releases.items() if v["chart_name"] == "kube-prometheus-stack"]
    values = merged_values(releases[kps]["values"])
    monitors = releases["container-inventory/inventory"]["monitors"]
    assert {m["kind"] for m in monitors} >= {"ServiceMonitor", "PrometheusRule"}, monitors
    problems = unselected(monitors, values, kps.split("/", 1)[1])
    assert not problems, "\n".join(problems)


def check_app_only_deploy(r: Result, context: str = "dev") -> None:
    """A deploy on a shared cluster touches no cluster-wide operator and deploys the VERSION tag."""
    check_app_release(r, "dev", context)
    touched = {c.extra["release"].get("chart", "").rsplit("/", 1)[-1] for c in r.upgrades()} & OPERATORS
    assert not touched, f"an app deploy upgraded cluster-wide operators: {touched}"
    for image in inventory_upgrade(r).extra["release"]["images"]:
        assert image["image"].endswith(f":{VERSION}"), image


def check_refused_before_any_cluster_call(r: Result, message: str) -> None:
    assert r.rc != 0, r.explain()
    assert message in r.stdout + r.stderr, r.explain()
    assert not [c for c in r.calls if c.tool in ("kubectl", "helm") and c.argv[:1] not in (["template"],)], r.explain()


def check_prod_by_digest(r: Result, pushed: Path) -> None:
    check_app_release(r, "prod", "dev")
    recorded = json.loads(pushed.read_text())
    images = inventory_upgrade(r).extra["release"]["images"]
    assert {i["image"].split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[1] for i in images} >= {
        "flask-api",
        "nginx-proxy",
    }
    for image in images:  # every image in prod: the registry the chart pulls from, the digest make push recorded
        ref, _, digest = image["image"].partition("@")
        name = ref.rsplit(":", 1)[0].rsplit("/", 1)[1]
        assert ref.startswith(_registry() + "/") and digest == recorded[name]["digest"], image


# --- scenarios ------------------------------------------------------------------------------------------------


def minikube_up(tmp: Path, root: Path = ROOT) -> Result:
    return Rehearsal(tmp, fresh_machine(), root).make("minikube-up")


def jenkins_dev_deploy(tmp: Path, root: Path = ROOT) -> Result:
    """deploy.Jenkinsfile's step: every parameter present, IMAGE_TAG an empty string (its default)."""
    rehearsal = Rehearsal(tmp, dev_cluster(platform=True), root)
    return rehearsal.make("deploy", "ENV=dev", env=rehearsal.env(IMAGE_TAG=""))


def platform_then_monitoring(tmp: Path, root: Path = ROOT) -> Result:
    rehearsal = Rehearsal(tmp, dev_cluster(platform=False), root)
    first = rehearsal.make("deploy", "ENV=dev", "PLATFORM=yes")
    assert first.rc == 0, first.explain()
    second = rehearsal.make("monitoring-up")
    second.calls = first.calls + second.calls
    return second


def prod(tmp: Path, *args: str, root: Path = ROOT, **env: str) -> Result:
    rehearsal = Rehearsal(tmp, dev_cluster(platform=True), root)
    return rehearsal.make("deploy", "ENV=prod", *args, env=rehearsal.env(**env))


# --- the rehearsal ----------------------------------------------------------------------------------------------


def test_minikube_first_run(tmp_path):
    check_minikube_first_run(minikube_up(tmp_path))


def minikube_running() -> dict[str, Any]:
    """After `make minikube-up`: the profile runs with the platform installed and the VERSION images loaded."""
    world = fresh_machine()
    world["minikube"][PROFILE] = {"running": True}
    cluster = new_cluster(
        ["default", "kube-system", "kube-public", "kube-node-lease", "ingress-nginx", "monitoring", "keda", "kyverno"],
        platform=True,
    )
    operators = {"keda/keda": "keda", "monitoring/kps": "kube-prometheus-stack", "kyverno/kyverno": "kyverno"}
    for key, chart in operators.items():
        cluster["releases"][key] = {"chart_name": chart, "revision": 1}
    world["contexts"][PROFILE] = cluster
    world["current_context"] = PROFILE
    return world


def test_make_deploy_minikube_rebuilds_and_loads_a_new_tag(tmp_path):
    rehearsal = Rehearsal(tmp_path, minikube_running())
    r = rehearsal.make("deploy", "ENV=minikube", "IMAGE_TAG=0.2.0-rc1")
    check_app_release(r, "minikube", PROFILE)
    images = {i["image"] for i in inventory_upgrade(r).extra["release"]["images"]}
    assert images == {f"{_registry()}/flask-api:0.2.0-rc1", f"{_registry()}/nginx-proxy:0.2.0-rc1"}, images
    assert images <= set(r.cluster(PROFILE)["pull_policy_never_images"])
    assert not [c for c in r.upgrades() if "kube-prometheus-stack" in " ".join(c.argv)], "platform not re-installed"


def test_jenkins_minikube_deploy_builds_and_loads_instead_of_pulling(tmp_path):
    """deploy.Jenkinsfile passes IMAGES_FILE for every ENV; minikube cannot pull, so the agent's build is loaded."""
    pushed = images_file(tmp_path / "images.json")
    rehearsal = Rehearsal(tmp_path / "w", minikube_running())
    r = rehearsal.make("deploy", "ENV=minikube", f"IMAGES_FILE={pushed}", env=rehearsal.env(IMAGE_TAG=""))
    check_app_release(r, "minikube", PROFILE)
    assert "--images-file not used" in r.stderr
    images = {i["image"] for i in inventory_upgrade(r).extra["release"]["images"]}
    assert images == {f"{_registry()}/flask-api:{VERSION}", f"{_registry()}/nginx-proxy:{VERSION}"}, images
    assert images <= set(r.cluster(PROFILE)["pull_policy_never_images"])


def test_jenkins_dev_deploy_with_empty_image_tag(tmp_path):
    check_app_only_deploy(jenkins_dev_deploy(tmp_path))


def test_missing_token_secret_stops_before_helm(tmp_path):
    world = dev_cluster(platform=True)
    del world["contexts"]["dev"]["secrets"]["container-inventory/inventory-api-token"]
    r = Rehearsal(tmp_path, world).make("deploy", "ENV=dev")
    assert r.rc == 2 and not r.upgrades(), r.explain()
    assert "error: Secret container-inventory/inventory-api-token (the API token, key token) is missing" in r.stderr


def test_platform_step_and_monitoring_lane_share_one_release(tmp_path):
    r = platform_then_monitoring(tmp_path)
    assert r.rc == 0, r.explain()
    check_one_monitoring_release(r, "dev")
    check_prometheus_selects_our_monitors(r, "dev")
    assert r.cluster("dev")["releases"]["monitoring/kps"]["revision"] == 2  # the lane upgraded the same release
    charts = [c.extra["release"]["chart"] for c in r.upgrades()]
    assert charts.count("kedacore/keda") == 1 and charts.count("kyverno/kyverno") == 1


def test_prod_refused_without_confirmation(tmp_path):
    check_refused_before_any_cluster_call(prod(tmp_path), "refusing to deploy to prod without --confirm-prod")


def test_prod_refused_without_digests(tmp_path):
    r = prod(tmp_path, "CONFIRM_PROD=yes")
    check_refused_before_any_cluster_call(r, "prod deploys only by digest")
    undigested = images_file(tmp_path / "images.json", digests=False)
    r = prod(tmp_path / "b", "CONFIRM_PROD=yes", f"IMAGES_FILE={undigested}")
    check_refused_before_any_cluster_call(r, "requireImageDigests: no digest for")


@pytest.mark.parametrize("image_tag", [None, ""], ids=["no-IMAGE_TAG", "empty-IMAGE_TAG-as-Jenkins"])
def test_prod_deploys_the_pushed_digests(tmp_path, image_tag):
    pushed = images_file(tmp_path / "images.json")
    env = {} if image_tag is None else {"IMAGE_TAG": image_tag}
    check_prod_by_digest(prod(tmp_path / "w", "CONFIRM_PROD=yes", f"IMAGES_FILE={pushed}", **env), pushed)


def test_prod_without_any_admission_engine_is_refused(tmp_path):
    """A cluster older than 1.30 (no ValidatingAdmissionPolicy) and without Kyverno: prod stops before helm."""
    world = dev_cluster(platform=True)
    cluster = world["contexts"]["dev"]
    cluster["resources"] = [r for r in cluster["resources"] if "admissionpolic" not in r and "kyverno" not in r]
    pushed = images_file(tmp_path / "images.json")
    rehearsal = Rehearsal(tmp_path / "w", world)
    r = rehearsal.make("deploy", "ENV=prod", "CONFIRM_PROD=yes", f"IMAGES_FILE={pushed}")
    assert r.rc == 2 and not r.upgrades(), r.explain()
    assert "error: prod needs admission enforcement" in r.stderr


def test_images_pushed_elsewhere_are_refused(tmp_path):
    pushed = images_file(tmp_path / "images.json", registry="docker.io/someone")
    r = prod(tmp_path / "w", "CONFIRM_PROD=yes", f"IMAGES_FILE={pushed}")
    assert r.rc != 0 and not r.upgrades(), r.explain()


# --- mutation checks: a broken copy of the scripts makes the rehearsal fail -----------------------------------

# name -> (edits, check, match): the check must fail with an AssertionError matching `match` (the failure the
# mutation causes, not any assertion: one from a broken setup would make every mutation "caught").
MUTATIONS: dict[str, tuple[list[tuple[str, str, str]], Callable[[Path, Path], None], str]] = {}


def mutation(name: str, *edits: tuple[str, str, str], match: str) -> Callable[[Callable[[Path, Path], None]], None]:
    def register(check: Callable[[Path, Path], None]) -> None:
        MUTATIONS[name] = (list(edits), check, match)

    return register


@mutation(
    "empty-image-tag-swallows-the-next-flag",
    ("Makefile", "override IMAGE_TAG  := $(or $(strip $(IMAGE_TAG)),$(VERSION))", "IMAGE_TAG ?= $(VERSION)"),
    ("mk/k8s.mk", "--env $(ENV) --image-tag=$(IMAGE_TAG)", "--env $(ENV) --image-tag $(IMAGE_TAG)"),
    (
        "deploy/scripts/deploy.sh",
        '--image-tag) IMAGE_TAG_ARG="$(value_of "$1" $# "${2-}")"',
        '--image-tag) IMAGE_TAG_ARG="${2:-}"',
    ),
    match=r"--- stdout\n\s*==> deploy ENV=dev\n\s*\n\s*--- stderr\n\s*make: \*\*\* \[\S+: deploy\] Error 1",
)
def _swallow(tmp: Path, root: Path) -> None:
    check_app_only_deploy(jenkins_dev_deploy(tmp, root))


@mutation(
    "platform-step-installs-a-second-kube-prometheus-stack",
    (
        "deploy/scripts/deploy.sh",
        'bash "$MONITORING_DIR/scripts/monitoring-up.sh" "${MONITORING_ARGS[@]}"',
        'helm_repo prometheus-community; run "${HELM[@]}" upgrade --install kube-prometheus-stack '
        'prometheus-community/kube-prometheus-stack --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace monitoring '
        "--create-namespace --atomic --wait --timeout 15m",
    ),
    match="hostPort 9100 is used by release monitoring/kube-prometheus-stack",
)
def _second_kps(tmp: Path, root: Path) -> None:
    r = platform_then_monitoring(tmp, root)
    assert r.rc == 0, r.explain()
    check_one_monitoring_release(r, "dev")


@mutation(
    "kube-prometheus-stack-without-our-values",
    ("deploy/monitoring/scripts/monitoring-up.sh", '"${VALUES[@]}" --atomic', "--atomic"),
    match="our kps values on every install",
)
def _chart_defaults(tmp: Path, root: Path) -> None:
    check_minikube_first_run(minikube_up(tmp, root))


@mutation(
    "chart-labels-monitors-for-another-prometheus-release",
    (
        "deploy/helm/container-inventory/values.yaml",
        "  prometheusRelease: kps\n",
        "  prometheusRelease: kube-prometheus-stack\n",
    ),
    match=r"not selected by \{'matchLabels': \{'release': 'kps'\}\}",
)
def _release_label(tmp: Path, root: Path) -> None:
    check_minikube_first_run(minikube_up(tmp, root))


@mutation(
    "kube-prometheus-stack-installed-under-another-release-name",
    ("deploy/scripts/lib.sh", "\nKPS_RELEASE=kps\n", "\nKPS_RELEASE=prometheus\n"),
    match=r"not selected by \{'matchLabels': \{'release': 'prometheus'\}\}",
)
def _release_name(tmp: Path, root: Path) -> None:
    check_prometheus_selects_our_monitors(platform_then_monitoring(tmp, root), "dev")


@mutation(
    "kps-rule-selector-wants-another-label",
    (
        "deploy/monitoring/values-kube-prometheus-stack.yaml",
        "    ruleSelectorNilUsesHelmValues: false\n",
        "    ruleSelectorNilUsesHelmValues: false\n    ruleSelector: {matchLabels: {team: platform}}\n",
    ),
    match=r"not selected by \{'matchLabels': \{'team': 'platform'\}\}",
)
def _rule_selector(tmp: Path, root: Path) -> None:
    check_minikube_first_run(minikube_up(tmp, root))


@mutation(
    "images-not-loaded-into-minikube",
    ("deploy/scripts/deploy.sh", 'run minikube --profile "$PROFILE" image load "$image"', "true"),
    match="ErrImageNeverPull",
)
def _no_load(tmp: Path, root: Path) -> None:
    check_minikube_first_run(minikube_up(tmp, root))


@mutation(
    "namespace-not-created",
    ("deploy/scripts/deploy.sh", 'run "${KUBECTL[@]}" apply -f "$RENDER_DIR/namespace.yaml"', "true"),
    match=r'failed to create: namespaces "\S+" not found',
)
def _no_namespace(tmp: Path, root: Path) -> None:
    check_app_only_deploy(jenkins_dev_deploy(tmp, root))


@mutation(
    "operators-upgraded-by-default",
    ("deploy/scripts/deploy.sh", "\nPLATFORM=0\n", "\nPLATFORM=1\n"),
    match="an app deploy upgraded cluster-wide operators",
)
def _platform_default(tmp: Path, root: Path) -> None:
    check_app_only_deploy(jenkins_dev_deploy(tmp, root))


@mutation(
    "prod-without-confirmation",
    ("deploy/scripts/deploy.sh", '[ "$ENV_NAME" = prod ] && [ "$CONFIRM_PROD" != 1 ]', "false"),
    match="error: prod deploys only by digest",
)
def _no_confirm(tmp: Path, root: Path) -> None:
    check_refused_before_any_cluster_call(prod(tmp, root=root), "refusing to deploy to prod without --confirm-prod")


@mutation(
    "prod-without-digests",
    ("deploy/scripts/deploy.sh", 'elif [ "$ENV_NAME" = prod ]; then', "elif false; then"),
    match="requireImageDigests: no digest for",
)
def _no_digest(tmp: Path, root: Path) -> None:
    check_refused_before_any_cluster_call(prod(tmp, "CONFIRM_PROD=yes", root=root), "prod deploys only by digest")


@mutation(
    "minikube-profile-too-small",
    ("deploy/scripts/minikube-up.sh", '--cpus "$MINIKUBE_CPUS"', "--cpus 2"),
    match="minikube profile CPUs not as values",
)
def _small(tmp: Path, root: Path) -> None:
    check_minikube_first_run(minikube_up(tmp, root))


@mutation(
    "env-values-file-not-passed",
    ("deploy/scripts/deploy.sh", '  "${VALUE_ARGS[@]}" --set namespace.create=false', "  --set namespace.create=false"),
    match="helm upgrade must get values-dev.yaml",
)
def _no_values(tmp: Path, root: Path) -> None:
    check_app_only_deploy(jenkins_dev_deploy(tmp, root))


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutation_makes_the_rehearsal_fail(tmp_path, name):
    edits, check, match = MUTATIONS[name]
    root = copy_tree(tmp_path / "repo")
    for rel, old, new in edits:
        path = root / rel
        text = path.read_text()
        assert text.count(old) == 1, f"mutation {name}: {old!r} not found once in {rel} (update the mutation)"
        path.write_text(text.replace(old, new))
    with pytest.raises(AssertionError, match=match):
        check(tmp_path / "world", root)


def test_an_unbroken_copy_passes(tmp_path):
    """The mutation checks fail because of the mutation, not because of the copy (the scenario tests above run
    the same checks on the repository itself)."""
    root = copy_tree(tmp_path / "repo")
    check_minikube_first_run(minikube_up(tmp_path / "world", root))


def test_stand_ins_refuse_what_the_cluster_would(tmp_path):
    rehearsal = Rehearsal(tmp_path, dev_cluster(platform=False))
    r = rehearsal.run(
        ["kubectl", "-n", "nowhere", "apply", "-f", str(ROOT / "deploy/monitoring/dashboards/configmaps.yaml")]
    )
    assert r.rc == 1 and 'namespaces "nowhere" not found' in r.stderr
    r = rehearsal.run(["kubectl", "apply", "-f", str(ROOT / "deploy/policies/generated/kyverno-clusterpolicy.yaml")])
    assert r.rc == 1 and 'no matches for kind "ClusterPolicy"' in r.stderr
    r = rehearsal.run(["minikube", "-p", "x", "image", "load", "flask-api:1"])
    assert r.rc == 85
    r = rehearsal.run(["kubectl", "--context", "prod", "version"])
    assert r.rc == 1 and 'context "prod" does not exist' in r.stderr
    assert [c.argv[:2] for c in r.calls] == [["--context", "prod"]]
    assert re.search(r"Server Version: v1\.33", rehearsal.run(["kubectl", "version"]).stdout)

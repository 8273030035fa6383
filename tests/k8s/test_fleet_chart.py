"""Fleet on Kubernetes (fleet.*): the sources file and the mutual-TLS client certificate reach flask-api and the
recorder, the rendered sources file passes the API's own JSON schema, what a pod cannot have fails the render, and
the NetworkPolicies let exactly the remote engines through. Off by default: nothing of it renders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from .conftest import ENVS, FIXTURES, ROOT, by_kind, one, pod_spec, render, run, template_cmd
from .model.connectivity import API_SERVER, chart_endpoints, flow_problems, required_flows
from .model.matrix import TOGGLES

API_SCHEMA = ROOT / "api" / "inventory" / "fleet" / "sources.schema.json"
FLEET = FIXTURES / "fleet-values.yaml"
# History on, as each environment can run it: prod's DoNotSchedule spread takes PostgreSQL only (the matrix's
# values, tests/k8s/model/matrix.py).
HISTORY = {env: TOGGLES["history"]["postgresql" if env == "prod" else "sqlite"] for env in ENVS}


def render_fleet(env: str, *sets: str, values: Path = FLEET) -> list[dict[str, Any]]:
    out = run([*template_cmd(env, *sets), "-f", str(values)], env={**os.environ, "HELM_DEBUG": ""}).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def render_error(env: str, values: dict[str, Any], tmp_path: Path, *sets: str) -> str:
    path = tmp_path / "v.yaml"
    path.write_text(yaml.safe_dump(values))
    proc = run([*template_cmd(env, *sets), "-f", str(path)], check=False)
    assert proc.returncode != 0, "the render should have failed"
    return proc.stderr


def schema_errors(doc: Any) -> list[str]:
    validator = Draft202012Validator(json.loads(API_SCHEMA.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def sources_file(docs: list[dict[str, Any]], workload: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parsed file SOURCES_FILE names in `workload`, found through the pod's volume mounts, and the container."""
    spec = pod_spec(one(docs, "Deployment", workload))
    container = spec["containers"][0]
    path = {e["name"]: e.get("value") for e in container["env"]}["SOURCES_FILE"]
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    assert mount.get("readOnly") is True
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    config_map = one(docs, "ConfigMap", volume["configMap"]["name"])
    return yaml.safe_load(config_map["data"][path[len(mount["mountPath"]) + 1 :]]), container


@pytest.mark.parametrize("env", ENVS)
def test_off_by_default_renders_nothing_of_it(env):
    docs = render(env, *HISTORY[env])
    assert not [d for d in docs if "fleet" in d["metadata"]["name"]]
    for dep in by_kind(docs, "Deployment"):
        spec = pod_spec(dep)
        assert "SOURCES_FILE" not in {e["name"] for c in spec["containers"] for e in c.get("env", [])}
        assert not [v for v in spec.get("volumes", []) if v["name"].startswith("fleet-")]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_sources_file_and_client_certificate_reach_api_and_recorder(env):
    docs = render_fleet(env, *HISTORY[env])
    expected = yaml.safe_load(FLEET.read_text())["fleet"]["sources"]
    for workload in ("flask-api", "-recorder"):
        sources, container = sources_file(docs, workload)
        assert sources == expected and schema_errors(sources) == []
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        cert_mount = mounts["/run/secrets/fleet"]
        assert cert_mount["readOnly"] is True and "subPath" not in cert_mount
        spec = pod_spec(one(docs, "Deployment", workload))
        (secret,) = [v["secret"] for v in spec["volumes"] if v["name"] == cert_mount["name"]]
        assert secret == {"secretName": "inventory-fleet-client", "defaultMode": 0o440}  # pragma: allowlist secret
        assert spec["securityContext"]["fsGroup"] == 10001  # group-readable key for the API's uid
        for source in sources["sources"]:
            for path in (source.get("tls") or {}).values():
                assert path.startswith("/run/secrets/fleet/"), path
        annotations = one(docs, "Deployment", workload)["spec"]["template"]["metadata"]["annotations"]
        assert len(annotations["checksum/fleet-sources"]) == 64  # a changed sources file rolls the pods


def test_prod_with_vault_keeps_the_agent_annotations_next_to_the_checksum():
    docs = render_fleet("prod")
    annotations = one(docs, "Deployment", "flask-api")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/agent-inject"] == "true" and "checksum/fleet-sources" in annotations


def test_schema_check_catches_a_sources_file_the_api_would_refuse(tmp_path):
    """The same schema the API validates SOURCES_FILE with at startup: a broken document is caught here."""
    bad = yaml.safe_load(FLEET.read_text())
    bad["fleet"]["sources"]["sources"][1]["name"] = "Build_Host"
    del bad["fleet"]["sources"]["sources"][1]["url"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    sources, _ = sources_file(render_fleet("prod", values=path), "flask-api")
    errors = schema_errors(sources)
    assert any("'url' is a required property" in e for e in errors), errors
    assert any(e.startswith("sources/1/name") for e in errors), errors
    assert schema_errors(yaml.safe_load((ROOT / "deploy/fleet/sources.example.yaml").read_text())) == []


def _fleet(**changes: Any) -> dict[str, Any]:
    values = yaml.safe_load(FLEET.read_text())
    remote = values["fleet"]["sources"]["sources"][1]
    for key, value in changes.items():
        if key == "clientCertSecret":
            values["fleet"][key] = value
        elif value is None:
            remote.pop(key)
        else:
            remote[key] = value
    return values


@pytest.mark.parametrize(
    ("env", "changes", "message"),
    [
        ("prod", {"clientCertSecret": ""}, "fleet.sources.sources[1] (build-host): tls needs fleet.clientCertSecret"),
        (
            "prod",
            {"tls": {"ca": "/etc/ssl/ca.pem", "cert": "/run/secrets/fleet/api.pem", "key": "/run/secrets/fleet/k.pem"}},
            'tls.ca "/etc/ssl/ca.pem" must be a file of fleet.clientCertSecret, mounted at /run/secrets/fleet/',
        ),
        ("prod", {"url": "unix:///var/run/docker.sock", "tls": None}, "a unix:// socket does not exist in the pod"),
        (
            "prod",
            {"type": "kubernetes", "url": None, "tls": None, "kubeconfig": "/etc/kube/config"},
            "the chart mounts no kubeconfig",
        ),
    ],
)
def test_what_a_pod_cannot_have_fails_the_render(tmp_path, env, changes, message):
    assert message in render_error(env, _fleet(**changes), tmp_path)


def test_in_cluster_source_must_stay_within_the_charts_rbac(tmp_path):
    values = yaml.safe_load(FLEET.read_text())
    values["fleet"]["sources"]["sources"][0]["namespaces"] = ["payments"]
    assert "namespace payments is not watched" in render_error("dev", values, tmp_path)
    del values["fleet"]["sources"]["sources"][0]["namespaces"]
    assert "in_cluster with api.watchNamespaces set must list namespaces" in render_error("dev", values, tmp_path)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_network_policies_let_exactly_the_remote_engines_through(env):
    docs = render_fleet(env, *HISTORY[env], *API_SERVER[env][2])
    assert flow_problems(env, docs) == []
    required = {str(f) for f in required_flows(env, docs, chart_endpoints(docs))}
    assert {"flask-api -> engine-build-host:2376/TCP", "recorder -> engine-build-host:2376/TCP"} <= required


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("fleet.egress=null", "blocked: flask-api -> engine-build-host:2376/TCP"),
        ("fleet.egress[0].port=2375", "blocked: recorder -> engine-build-host:2376/TCP"),
        ("fleet.egress[0].cidr=0.0.0.0/0", "allowed but not needed: flask-api -> stranger:2376/TCP"),
    ],
)
def test_flow_check_fails_when_fleet_egress_is_wrong(setting, expected):
    docs = render_fleet("prod", *HISTORY["prod"], *API_SERVER["prod"][2], setting)
    assert expected in flow_problems("prod", docs)

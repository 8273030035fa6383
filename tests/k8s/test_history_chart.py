"""The history parts of the chart (history.enabled): one recorder, its PVC or Secret, the API's DATABASE_URL."""

from __future__ import annotations

import pytest

from tests.k8s.conftest import CHART, by_kind, one, render, run, template_cmd

ON = "history.enabled=true"


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container["env"]}


def pod(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]


def test_off_by_default_renders_nothing_of_it():
    docs = render("dev")
    assert not [d for d in docs if d["metadata"]["name"].endswith(("-recorder", "-history"))]
    assert "DATABASE_URL" not in env_of(pod(one(docs, "Deployment", "flask-api"))["containers"][0])


def test_sqlite_one_recorder_with_pvc_shared_with_the_api():
    docs = render("dev", ON)
    rec = one(docs, "Deployment", "-recorder")
    assert rec["spec"]["replicas"] == 1 and rec["spec"]["strategy"] == {"type": "Recreate"}
    container = pod(rec)["containers"][0]
    assert container["command"] == ["python3", "-m", "inventory.recorder"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    pvc = one(docs, "PersistentVolumeClaim", "-history")
    for dep in (rec, one(docs, "Deployment", "flask-api")):
        c = pod(dep)["containers"][0]
        assert env_of(c)["DATABASE_URL"]["value"] == "sqlite:////var/lib/inventory/history.db"
        assert {"name": "history", "mountPath": "/var/lib/inventory"} in c["volumeMounts"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod(dep)["volumes"] if "persistentVolumeClaim" in v]
        assert claims == [pvc["metadata"]["name"]]
    policy = one(docs, "NetworkPolicy", "-recorder")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_postgresql_url_comes_from_a_secret_and_no_pvc():
    docs = render(
        "dev",
        ON,
        "history.database=postgresql",
        "history.postgresql.existingSecret=inventory-history-db",
        "history.postgresql.egress[0].namespace=databases",
        "history.postgresql.egress[0].port=5432",
    )
    assert not by_kind(docs, "PersistentVolumeClaim")
    for name in ("-recorder", "flask-api"):
        url = env_of(pod(one(docs, "Deployment", name))["containers"][0])["DATABASE_URL"]
        assert url == {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "inventory-history-db", "key": "DATABASE_URL"}},
        }


def test_postgresql_without_a_secret_or_a_path_to_it_and_bad_values_fail_the_render():
    missing = run(template_cmd("dev", ON, "history.database=postgresql"), check=False)
    assert missing.returncode != 0 and "history.postgresql.existingSecret" in missing.stderr
    nowhere = run(
        template_cmd("dev", ON, "history.database=postgresql", "history.postgresql.existingSecret=db"), check=False
    )
    assert nowhere.returncode != 0 and "history.postgresql.egress" in nowhere.stderr
    bad = run(template_cmd("dev", ON, "history.database=mysql"), check=False)
    assert bad.returncode != 0 and "history" in bad.stderr


@pytest.mark.parametrize("env", ["minikube", "dev", "prod"])
def test_renders_and_lints_in_every_env(env):
    pg = ["history.database=postgresql", "history.postgresql.existingSecret=db"]
    pg += ["history.postgresql.egress[0].cidr=10.0.5.10/32", "history.postgresql.egress[0].port=5432"]
    extra = pg if env == "prod" else []
    assert one(render(env, ON, *extra), "Deployment", "-recorder")
    run([*template_cmd(env, ON, *extra)[:1], "lint", "--strict", str(CHART), "--set", ON])

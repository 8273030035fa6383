"""Config export: cleaning of realistic `kubectl get -o json` output and the age encryption round trip."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from invops import config

from tests.ops.conftest import invops
from tests.support import prereq

FIXTURE = Path(__file__).parent / "fixtures" / "namespace-objects.json"
SERVER_FIELDS = ("uid", "resourceVersion", "managedFields", "creationTimestamp", "generation", "ownerReferences")


@pytest.fixture
def age() -> None:
    prereq.tool("age")
    prereq.tool("age-keygen")


needs_age = pytest.mark.usefixtures("age")


@pytest.fixture
def items() -> list[dict]:
    return json.loads(FIXTURE.read_text())["items"]


@pytest.fixture
def age_key(tmp_path) -> tuple[Path, str]:
    key = tmp_path / "age.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(line.split(": ")[1] for line in key.read_text().splitlines() if "public key" in line)
    return key, public


def test_clean_strips_server_state_and_keeps_spec(items):
    objects, secrets = config.split(items)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "ScaledObject",
        "Service",
        "Service",
        "ServiceAccount",
    ]
    assert [s["metadata"]["name"] for s in secrets] == ["inventory-api-token"]  # SA token minted by the cluster
    for obj in objects + secrets:
        assert "status" not in obj
        assert not set(SERVER_FIELDS) & set(obj["metadata"])
    deploy = next(o for o in objects if o["kind"] == "Deployment")
    assert deploy["metadata"]["annotations"] == {"meta.helm.sh/release-name": "inventory"}
    assert deploy["spec"]["replicas"] == 2 and deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    svc = next(o for o in objects if o["metadata"]["name"] == "inventory-nginx")
    assert "clusterIP" not in svc["spec"] and svc["spec"]["ports"][0]["targetPort"] == 8080
    headless = next(o for o in objects if o["metadata"]["name"] == "inventory-flask-api-headless")
    assert headless["spec"]["clusterIP"] == "None"
    pvc = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")
    assert "volumeName" not in pvc["spec"] and "annotations" not in pvc["metadata"]


def test_clean_does_not_mutate_input(items):
    before = json.dumps(items, sort_keys=True)
    config.split(items)
    assert json.dumps(items, sort_keys=True) == before


@needs_age
def test_export_encrypts_secrets_and_round_trips(tmp_path, age_key, items):
    key, public = age_key
    res = invops(
        "config",
        "export",
        "-n",
        "inventory",
        "--from-json",
        str(FIXTURE),
        "-r",
        public,
        "--out",
        str(tmp_path / "exports"),
    )
    assert res.returncode == 0, res.stderr
    export = next((tmp_path / "exports").iterdir())
    token = base64.b64encode(b"fixture-token").decode()
    for path in export.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert token.encode() not in blob and b"fixture-token" not in blob, path
    encrypted = export / "secrets" / "secret-inventory-api-token.yaml.age"
    assert encrypted.read_text().startswith("-----BEGIN AGE ENCRYPTED FILE-----")
    plain = subprocess.run(["age", "-d", "-i", str(key), str(encrypted)], capture_output=True, check=True).stdout
    secret = yaml.safe_load(plain)
    original = next(i for i in items if i["metadata"]["name"] == "inventory-api-token")
    assert secret == config.clean(original)
    assert base64.b64decode(secret["data"]["token"]) == b"fixture-token"
    doc = json.loads((export / "manifest.json").read_text())
    assert doc["counts"] == {"objects": 8, "secrets": 1} and doc["recipients"] == [public]
    deploy = yaml.safe_load((export / "objects" / "deployment-inventory-flask-api.yaml").read_text())
    assert deploy == config.clean(items[0])

    # the restore path verifies first and (dry-run) prints the re-apply commands without decrypting to stdout
    res = invops("config", "restore", str(export), "-i", str(key), "-n", "inventory", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert f"kubectl apply -n inventory -f {export / 'objects'}" in res.stdout
    assert "| kubectl apply -n inventory -f -" in res.stdout and token not in res.stdout

    encrypted.write_bytes(encrypted.read_bytes().replace(b"A", b"B", 1))
    res = invops("config", "restore", str(export), "-i", str(key), "--dry-run")
    assert res.returncode == 3 and "SHA-256" in res.stderr


@needs_age
def test_export_requires_a_recipient(tmp_path):
    res = invops("config", "export", "-n", "inventory", "--from-json", str(FIXTURE), "--out", str(tmp_path))
    assert res.returncode == 2 and "--recipient" in res.stderr
    assert not list(tmp_path.iterdir())


def test_live_export_dry_run_prints_kubectl_and_helm(tmp_path):
    res = invops(
        "config",
        "export",
        "-n",
        "inventory",
        "--release",
        "inventory",
        "-r",
        "age1example",
        "--out",
        str(tmp_path),
        "--dry-run",
    )
    assert res.returncode == 0, res.stderr
    assert "helm get values inventory -n inventory -o yaml --all" in res.stdout
    assert "helm get manifest inventory -n inventory" in res.stdout
    assert "kubectl get deployments -n inventory -o json" in res.stdout
    assert "kubectl get scaledobjects.keda.sh -n inventory -o json" in res.stdout
    assert not list(tmp_path.iterdir())


STANDIN = """#!/bin/sh
# Stand-in for a cluster (none runs on this machine): answers from the fixture, logs argv.
echo "$(basename "$0") $*" >> "$OPS_LOG"
case "$(basename "$0") $*" in
  "helm get values"*) printf 'replicaCount: 2\\nimage:\\n  tag: 0.1.0\\n' ;;
  "helm get manifest"*) printf -- '---\\nkind: Deployment\\n' ;;
  "kubectl get deployments"*) python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); \\
d["items"]=[i for i in d["items"] if i["kind"]=="Deployment"]; print(json.dumps(d))' "$OPS_FIXTURE" ;;
  "kubectl get secrets"*) python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); \\
d["items"]=[i for i in d["items"] if i["kind"]=="Secret"]; print(json.dumps(d))' "$OPS_FIXTURE" ;;
  "kubectl get scaledobjects.keda.sh"*)
    echo 'error: the server doesn'"'"'t have a resource type "scaledobjects"' >&2; exit 1 ;;
  "kubectl get"*) echo '{"apiVersion": "v1", "kind": "List", "items": []}' ;;
esac
"""


@needs_age
def test_live_export_reads_helm_and_kubectl(tmp_path, age_key):
    import os
    import stat

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("helm", "kubectl"):
        (bindir / tool).write_text(STANDIN)
        (bindir / tool).chmod(0o755 | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    _, public = age_key
    res = invops(
        "config",
        "export",
        "-n",
        "inventory",
        "--release",
        "inventory",
        "-r",
        public,
        "--out",
        str(tmp_path / "out"),
        env={"PATH": f"{bindir}:{os.environ['PATH']}", "OPS_LOG": str(log), "OPS_FIXTURE": str(FIXTURE)},
    )
    assert res.returncode == 0, res.stderr
    assert "skipping scaledobjects.keda.sh: not installed in this cluster" in res.stderr
    export = next((tmp_path / "out").iterdir())
    assert (export / "helm/inventory/values.yaml").read_text().startswith("replicaCount: 2")
    assert (export / "helm/inventory/manifest.yaml").is_file()
    assert sorted(p.name for p in (export / "objects").iterdir()) == ["deployment-inventory-flask-api.yaml"]
    assert sorted(p.name for p in (export / "secrets").iterdir()) == ["secret-inventory-api-token.yaml.age"]
    calls = log.read_text().splitlines()
    assert calls[:2] == [
        "helm get values inventory -n inventory -o yaml --all",
        "helm get manifest inventory -n inventory",
    ]
    assert len(calls) == 2 + len(config.EXPORT_KINDS)
    assert json.loads((export / "manifest.json").read_text())["counts"] == {"objects": 1, "secrets": 1}

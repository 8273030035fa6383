"""Export Helm release values/manifests and namespace objects, cleaned for re-apply; Secrets only age-encrypted."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from invops import manifest
from invops.errors import OpsError, UsageError
from invops.runner import Runner, progress

KIND = "k8s-config"

# Namespaced kinds worth re-applying. Pods/ReplicaSets/Endpoints/Events are recreated by controllers.
EXPORT_KINDS = [
    "deployments",
    "statefulsets",
    "daemonsets",
    "cronjobs",
    "services",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "roles",
    "rolebindings",
    "networkpolicies",
    "persistentvolumeclaims",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "ingresses",
    "resourcequotas",
    "limitranges",
    "scaledobjects.keda.sh",
    "servicemonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
]
SKIP_KINDS = {"Pod", "ReplicaSet", "Endpoints", "EndpointSlice", "Event", "ControllerRevision", "Lease"}
METADATA_DROP = (
    "uid",
    "resourceVersion",
    "managedFields",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)
ANNOTATIONS_DROP = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "autoscaling.alpha.kubernetes.io/conditions",
)
SECRET_TYPES_SKIP = {"kubernetes.io/service-account-token"}  # minted by the control plane
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def keep(obj: dict[str, Any]) -> bool:
    """Whether an object belongs in a re-applicable export at all."""
    meta = obj.get("metadata", {})
    if obj.get("kind") in SKIP_KINDS:
        return False
    if any(ref.get("controller") for ref in meta.get("ownerReferences", [])):
        return False  # owned by a controller that will recreate it
    if obj.get("kind") == "ConfigMap" and meta.get("name") == "kube-root-ca.crt":
        return False
    return not (obj.get("kind") == "Secret" and obj.get("type") in SECRET_TYPES_SKIP)


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """Strip server-populated state so `kubectl apply` can recreate the object in a fresh cluster."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    for key in METADATA_DROP:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in ANNOTATIONS_DROP:
        annotations.pop(key, None)
    if not annotations:
        meta.pop("annotations", None)
    spec = out.get("spec")
    kind = out.get("kind")
    if kind == "Service" and isinstance(spec, dict):
        for key in ("clusterIP", "clusterIPs"):
            if spec.get(key) not in (None, "None"):  # keep headless services headless
                spec.pop(key, None)
        for port in spec.get("ports", []):
            if spec.get("type") in (None, "ClusterIP"):
                port.pop("nodePort", None)
    if kind == "PersistentVolumeClaim" and isinstance(spec, dict):
        spec.pop("volumeName", None)  # let the provisioner (or Velero) bind a new PV
    if kind in ("Job",) and isinstance(spec, dict):
        spec.pop("selector", None)
        for labels in (meta.get("labels") or {}, spec.get("template", {}).get("metadata", {}).get("labels", {})):
            for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
                labels.pop(key, None)
    return out


def split(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Cleaned (objects, secrets) from a kubectl List's items."""
    objects: list[dict[str, Any]] = []
    secrets: list[dict[str, Any]] = []
    for obj in items:
        if not keep(obj):
            continue
        cleaned = clean(obj)
        (secrets if cleaned.get("kind") == "Secret" else objects).append(cleaned)
    return objects, secrets


def age_encrypt(plaintext: bytes, recipients: list[str], runner: Runner) -> bytes:
    args = ["age", "--armor"]
    for rcpt in recipients:
        args += ["-r", rcpt]
    return runner.run(args, capture=True, input_bytes=plaintext, mutating=False).stdout


def age_decrypt(ciphertext: bytes, identity: Path, runner: Runner) -> bytes:
    return runner.run(["age", "-d", "-i", str(identity)], capture=True, input_bytes=ciphertext, mutating=False).stdout


def _filename(obj: dict[str, Any]) -> str:
    return _SAFE.sub("_", f"{obj.get('kind', 'Object')}-{obj.get('metadata', {}).get('name', 'unnamed')}").lower()


def write_export(
    target: Path,
    items: list[dict[str, Any]],
    recipients: list[str],
    runner: Runner,
    extra_files: dict[str, bytes],
    source: dict[str, Any],
) -> Path:
    """Write objects/*.yaml, secrets/*.yaml.age (never plaintext), helm files, then the manifest."""
    if not recipients:
        raise UsageError("at least one --recipient (age public key) is required: Secrets are only stored encrypted")
    objects, secrets = split(items)
    target.mkdir(parents=True, exist_ok=False)
    (target / "objects").mkdir()
    (target / "secrets").mkdir()
    artifacts = []
    for obj in objects:
        rel = f"objects/{_filename(obj)}.yaml"
        (target / rel).write_text(yaml.safe_dump(obj, sort_keys=False))
        artifacts.append(rel)
    for secret in secrets:
        rel = f"secrets/{_filename(secret)}.yaml.age"
        (target / rel).write_bytes(age_encrypt(yaml.safe_dump(secret, sort_keys=False).encode(), recipients, runner))
        artifacts.append(rel)
    for rel, data in extra_files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_bytes(data)
        artifacts.append(rel)
    manifest.write(
        target,
        KIND,
        sorted(artifacts),
        source,
        recipients=recipients,
        counts={"objects": len(objects), "secrets": len(secrets)},
    )
    progress(f"exported {len(objects)} objects and {len(secrets)} encrypted secrets to {target}")
    return target


def export(
    namespace: str,
    releases: list[str],
    out_root: Path,
    recipients: list[str],
    runner: Runner,
    from_json: Path | None = None,
) -> Path:
    """Export from the live cluster (kubectl/helm), or from a saved `kubectl get -o json` List (--from-json)."""
    if not recipients:
        raise UsageError("at least one --recipient (age public key) is required: Secrets are only stored encrypted")
    target = out_root / f"config-{namespace}-{manifest.utc_stamp()}"
    extra: dict[str, bytes] = {}
    items: list[dict[str, Any]] = []
    if from_json is not None:
        try:
            doc = json.loads(from_json.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read kubectl JSON {from_json}: {exc}") from exc
        items = doc.get("items", [doc]) if isinstance(doc, dict) else []
    else:
        commands = [
            ["helm", "get", what, release, "-n", namespace, *fmt]
            for release in releases
            for what, fmt in (("values", ["-o", "yaml", "--all"]), ("manifest", []))
        ]
        commands += [["kubectl", "get", kind, "-n", namespace, "-o", "json"] for kind in EXPORT_KINDS]
        if runner.dry_run:  # print the exact read commands; contact no cluster
            for cmd in commands:
                print(shlex.join(cmd))
        else:
            extra, items = _read_cluster(commands, runner)
    if runner.dry_run:
        print(f"would write cleaned objects and age-encrypted secrets to {target}")
        return target
    source = {"namespace": namespace, "releases": releases, "from_json": str(from_json) if from_json else None}
    return write_export(target, items, recipients, runner, extra, source)


def _read_cluster(commands: list[list[str]], runner: Runner) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    extra: dict[str, bytes] = {}
    items: list[dict[str, Any]] = []
    for cmd in commands:
        proc = runner.run(cmd, capture=True, check=False, mutating=False)
        if cmd[0] == "helm":
            if proc.returncode != 0:
                raise OpsError(f"{shlex.join(cmd)} failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
            extra[f"helm/{cmd[3]}/{cmd[2]}.yaml"] = proc.stdout
        elif proc.returncode == 0:
            items += json.loads(proc.stdout).get("items", [])
        elif b"the server doesn't have a resource type" in proc.stderr:
            progress(f"skipping {cmd[2]}: not installed in this cluster")
        else:
            raise OpsError(f"{shlex.join(cmd)} failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
    return extra, items


def restore(backup: Path, identity: Path, namespace: str | None, runner: Runner) -> None:
    """Verify the export, apply objects, then decrypt each Secret in memory and pipe it to kubectl."""
    doc = manifest.verify(backup, KIND)
    if not identity.is_file():
        raise UsageError(f"age identity file not found: {identity}")
    ns = ["-n", namespace] if namespace else []
    runner.run(["kubectl", "apply", *ns, "-f", str(backup / "objects")])
    for entry in doc["artifacts"]:
        if not entry["path"].startswith("secrets/"):
            continue
        if runner.dry_run:  # never print decrypted secrets
            apply = shlex.join(["kubectl", "apply", *ns, "-f", "-"])
            print(f"age -d -i {shlex.quote(str(identity))} {shlex.quote(str(backup / entry['path']))} | {apply}")
            continue
        plaintext = age_decrypt((backup / entry["path"]).read_bytes(), identity, runner)
        runner.run(["kubectl", "apply", *ns, "-f", "-"], input_bytes=plaintext, capture=True)

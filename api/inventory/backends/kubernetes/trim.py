"""Trimming: what the pod cache keeps of a pod (no env, command, args or managedFields ever enter memory)."""

from __future__ import annotations

from typing import Any

# (spec key, status key) per container kind.
KINDS = (
    ("initContainers", "initContainerStatuses"),
    ("containers", "containerStatuses"),
    ("ephemeralContainers", "ephemeralContainerStatuses"),
)
# Volume sources by name; anything else is kept as "other" (the restricted profile forbids it either way).
VOLUME_TYPES = (
    "hostPath",
    "emptyDir",
    "secret",
    "configMap",
    "projected",
    "persistentVolumeClaim",
    "downwardAPI",
    "csi",
    "ephemeral",
    "nfs",
    "image",
    "iscsi",
    "rbd",
    "cephfs",
    "glusterfs",
    "gitRepo",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "fc",
    "flexVolume",
    "cinder",
    "vsphereVolume",
    "portworxVolume",
)
# Annotations are dropped except these (they carry posture settings, never secrets).
KEPT_ANNOTATION_PREFIXES = ("container.apparmor.security.beta.kubernetes.io/", "container-inventory.io/waive")


def _trim_container(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": c.get("name", ""),
        "image": c.get("image", ""),
        "securityContext": c.get("securityContext") or {},
        "limits": (c.get("resources") or {}).get("limits") or {},
        "ports": [
            {k: p[k] for k in ("containerPort", "protocol", "hostPort", "hostIP") if k in p}
            for p in c.get("ports") or []
        ],
        "volumeMounts": [
            {k: m[k] for k in ("name", "mountPath", "readOnly", "mountPropagation") if k in m}
            for m in c.get("volumeMounts") or []
        ],
        "probes": sorted(p for p in ("livenessProbe", "readinessProbe", "startupProbe") if c.get(p)),
        "probe_hosts": _handler_hosts(c),
    }


def _handler_hosts(c: dict[str, Any]) -> list[str]:
    """The `host` of every probe and lifecycle hook (httpGet, tcpSocket): PSS baseline wants none set."""
    lifecycle = c.get("lifecycle") or {}
    handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    handlers += [lifecycle.get(h) for h in ("postStart", "preStop")]
    hosts = {
        str((h.get(action) or {}).get("host") or "")
        for h in handlers
        if isinstance(h, dict)
        for action in ("httpGet", "tcpSocket")
    }
    return sorted(hosts - {""})


def _trim_volume(v: dict[str, Any]) -> dict[str, Any]:
    kind = next((t for t in VOLUME_TYPES if t in v), "other")
    source = (v.get("hostPath") or {}).get("path", "") if kind == "hostPath" else v.get("name", "")
    return {"name": v.get("name", ""), "type": kind, "source": source}


def trim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """Keep only what the inventory needs; secrets-adjacent fields (env, args, most annotations) never enter memory."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    trimmed_spec: dict[str, Any] = {
        k: spec.get(k) for k in ("nodeName", "hostNetwork", "hostPID", "hostIPC", "securityContext") if k in spec
    }
    annotations = {
        k: str(v) for k, v in (meta.get("annotations") or {}).items() if k.startswith(KEPT_ANNOTATION_PREFIXES)
    }
    trimmed_spec["volumes"] = [_trim_volume(v) for v in spec.get("volumes") or []]
    for spec_key, _ in KINDS:
        trimmed_spec[spec_key] = [_trim_container(c) for c in spec.get(spec_key) or []]
    return {
        "metadata": {
            k: meta.get(k)
            for k in ("name", "namespace", "uid", "labels", "creationTimestamp", "resourceVersion", "deletionTimestamp")
            if k in meta
        }
        | ({"annotations": annotations} if annotations else {}),
        "spec": trimmed_spec,
        "status": {k: status.get(k) for k in ("phase", "startTime", *tuple(s for _, s in KINDS)) if k in status},
    }

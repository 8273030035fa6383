"""Workload identity and the finding fingerprint: ONE definition for posture answers and history.

A finding is identified over time by (source, workload identity, rule), so a recreated container
(same compose service, same Kubernetes owner + container name) keeps its fingerprint: in
``/api/posture`` (``fingerprint``, SARIF ``partialFingerprints``) and in the recorder's history alike.
"""

from __future__ import annotations

import hashlib
import re

from .model import Container

_RS_POD = re.compile(r"^(?P<owner>.+)-(?P<hash>[a-z0-9]+)-[a-z0-9]{5}$")
_GENERATED_POD = re.compile(r"^(?P<owner>.+)-[a-z0-9]{5}$")


def _k8s_owner(c: Container) -> str:
    """Deployment / DaemonSet / Job name from the pod name and the controller labels; else the pod name."""
    pod = c.pod or ""
    labels = c.labels
    if "statefulset.kubernetes.io/pod-name" in labels:
        return pod  # stable identity by design
    template_hash = labels.get("pod-template-hash")
    if template_hash and (m := _RS_POD.match(pod)) and m.group("hash") == template_hash:
        return m.group("owner")
    if "job-name" in labels:
        return labels["job-name"]
    if "controller-revision-hash" in labels and (m := _GENERATED_POD.match(pod)):
        return m.group("owner")
    return pod


def workload_identity(c: Container) -> str:
    """compose:<project>/<service>/<n>, k8s:<namespace>/<owner>/<container>, else name:<container name>."""
    if c.namespace is not None:
        container_name = c.names[0].rsplit("/", 1)[-1] if c.names else c.short_id
        return f"k8s:{c.namespace}/{_k8s_owner(c)}/{container_name}"
    project = c.labels.get("com.docker.compose.project")
    service = c.labels.get("com.docker.compose.service")
    if project and service:
        return f"compose:{project}/{service}/{c.labels.get('com.docker.compose.container-number', '1')}"
    return f"name:{c.name}"


def fingerprint(source: str, workload: str, rule: str) -> str:
    """The stable id of one finding: 32 hex characters of SHA-256 over source, workload identity and rule."""
    return hashlib.sha256(f"{source}\x00{workload}\x00{rule}".encode()).hexdigest()[:32]


__all__ = ["fingerprint", "workload_identity"]

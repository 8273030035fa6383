"""Mapping: a trimmed pod -> one ``Container`` (and its ``Security``) per container."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from ...model import Container, Mount, Port, Security
from ..base import capability, image_reference_flags, is_docker_socket
from .trim import KINDS


def runtime_id(container_id: str | None) -> str | None:
    """``containerd://abc`` -> ``abc`` (any runtime scheme); None when the container has not started."""
    if not container_id:
        return None
    return container_id.split("://", 1)[1] if "://" in container_id else container_id


def _state(status: dict[str, Any] | None) -> tuple[str, str, str | None]:
    """(Docker-compatible state, human status, started_at) from a containerStatus."""
    if not status:
        return "created", "Pending", None
    state = status.get("state") or {}
    if "running" in state:
        return "running", "Running", (state["running"] or {}).get("startedAt")
    if "terminated" in state:
        t = state["terminated"] or {}
        return "exited", f"Terminated: {t.get('reason', '')} (exit {t.get('exitCode', '?')})", t.get("startedAt")
    reason = (state.get("waiting") or {}).get("reason", "Waiting")
    return ("restarting" if reason == "CrashLoopBackOff" else "created"), f"Waiting: {reason}", None


def _health(spec: dict[str, Any], status: dict[str, Any] | None, state: str) -> str:
    if not spec.get("probes") or state != "running" or not status:
        return "none"
    if status.get("started") is False:
        return "starting"
    return "healthy" if status.get("ready") else "unhealthy"


def iter_containers(pod: dict[str, Any]) -> Iterable[tuple[dict[str, Any], dict[str, Any] | None]]:
    spec, status = pod["spec"], pod["status"]
    for spec_key, status_key in KINDS:
        statuses = {s.get("name"): s for s in status.get(status_key) or []}
        for c in spec.get(spec_key) or []:
            yield c, statuses.get(c["name"])


def container_id_for(pod: dict[str, Any], spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    meta = pod["metadata"]
    rid = runtime_id((status or {}).get("containerID"))
    return rid or f"{meta.get('namespace', '')}.{meta.get('name', '')}.{spec['name']}"


def container_from_pod(pod: dict[str, Any], spec: dict[str, Any], status: dict[str, Any] | None) -> Container:
    meta = pod["metadata"]
    state, human, started = _state(status)
    namespace, pod_name = meta.get("namespace", ""), meta.get("name", "")
    return Container(
        id=container_id_for(pod, spec, status),
        names=[f"{namespace}/{pod_name}/{spec['name']}"],
        image=spec.get("image", ""),
        image_id=(status or {}).get("imageID", ""),
        state=state,
        status=human,
        created=meta.get("creationTimestamp"),
        started_at=started,
        ports=[
            Port(
                private_port=int(p.get("containerPort", 0)),
                protocol=str(p.get("protocol", "TCP")).lower(),
                public_port=p.get("hostPort"),
                ip=p.get("hostIP"),
            )
            for p in spec.get("ports") or []
        ],
        health=_health(spec, status, state),
        labels=dict(meta.get("labels") or {}),
        namespace=namespace,
        pod=pod_name,
        node=pod["spec"].get("nodeName"),
        restart_count=int((status or {}).get("restartCount", 0)),
    )


def _quantity(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(parse_quantity(value))
    except ValueError:
        return None


def _effective(key: str, sc: dict[str, Any], pod_sc: dict[str, Any]) -> Any:
    """A container securityContext setting, falling back to the pod's (Kubernetes' own precedence)."""
    return sc[key] if sc.get(key) is not None else pod_sc.get(key)


_SECCOMP = {"RuntimeDefault": "runtime-default", "Localhost": "localhost", "Unconfined": "unconfined"}
_PROPAGATION = {"Bidirectional": "rshared", "HostToContainer": "rslave", "None": "private"}
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor(pod: dict[str, Any], spec: dict[str, Any], sc: dict[str, Any], pod_sc: dict[str, Any]) -> str:
    profile = _effective("appArmorProfile", sc, pod_sc) or {}
    if profile.get("type"):
        return {"Unconfined": "unconfined", "RuntimeDefault": "runtime/default"}.get(profile["type"], "localhost")
    annotations = pod["metadata"].get("annotations") or {}
    return str(annotations.get(APPARMOR_ANNOTATION + spec["name"], ""))


def _mounts(pod_spec: dict[str, Any], spec: dict[str, Any]) -> list[Mount]:
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    mounts = []
    for m in spec.get("volumeMounts") or []:
        vol = volumes.get(m.get("name", ""), {"type": "other", "source": m.get("name", "")})
        host = vol["type"] == "hostPath"
        mounts.append(
            Mount(
                type=vol["type"],
                source=vol["source"],
                destination=m.get("mountPath", ""),
                read_only=bool(m.get("readOnly")),
                docker_socket=host and (is_docker_socket(vol["source"]) or is_docker_socket(m.get("mountPath", ""))),
                propagation=_PROPAGATION.get(m.get("mountPropagation", ""), ""),
            )
        )
    return mounts


def security_from_pod(pod: dict[str, Any], spec: dict[str, Any]) -> Security:
    pod_spec = pod["spec"]
    pod_sc = pod_spec.get("securityContext") or {}
    sc = spec.get("securityContext") or {}
    uid = _effective("runAsUser", sc, pod_sc)
    gid = _effective("runAsGroup", sc, pod_sc)
    non_root = _effective("runAsNonRoot", sc, pod_sc)
    if uid is not None:
        user = f"{uid}:{gid}" if gid is not None else str(uid)
    else:
        # The kubelet refuses to start a root image when runAsNonRoot is true, so this is non-root.
        user = "non-root" if non_root else ""
    caps = sc.get("capabilities") or {}
    privileged = bool(sc.get("privileged"))
    memory = _quantity(spec["limits"].get("memory"))
    pinned, mutable = image_reference_flags(spec.get("image", ""))
    seccomp = (_effective("seccompProfile", sc, pod_sc) or {}).get("type")
    selinux = {k: str(v) for k, v in (_effective("seLinuxOptions", sc, pod_sc) or {}).items() if v}
    windows = sc.get("windowsOptions") or {}
    host_process = windows.get("hostProcess")
    if host_process is None:
        host_process = (pod_sc.get("windowsOptions") or {}).get("hostProcess")
    return Security(
        user=user,
        privileged=privileged,
        read_only_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        cap_add=sorted(capability(c) for c in caps.get("add") or []),
        cap_drop=sorted(capability(c) for c in caps.get("drop") or []),
        # Kubernetes always allows escalation for privileged containers, whatever the flag says.
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False and not privileged,
        host_network=bool(pod_spec.get("hostNetwork")),
        host_pid=bool(pod_spec.get("hostPID")),
        host_ipc=bool(pod_spec.get("hostIPC")),
        mounts=_mounts(pod_spec, spec),
        memory_limit_bytes=int(memory) if memory else None,
        cpu_limit=_quantity(spec["limits"].get("cpu")),
        healthcheck=all(p in spec.get("probes", ()) for p in ("livenessProbe", "readinessProbe")),
        image_pinned_by_digest=pinned,
        image_mutable_tag=mutable,
        host_process=bool(host_process),
        run_as_non_root=bool(non_root),
        host_ports=[
            Port(int(p.get("containerPort", 0)), str(p.get("protocol", "TCP")).lower(), p["hostPort"], p.get("hostIP"))
            for p in spec.get("ports") or []
            if p.get("hostPort")
        ],
        seccomp=_SECCOMP.get(seccomp or "", "unset"),
        apparmor=_apparmor(pod, spec, sc, pod_sc),
        selinux_options=selinux,
        proc_mount_unmasked=sc.get("procMount") == "Unmasked",
        sysctls=sorted(str(s.get("name", "")) for s in pod_sc.get("sysctls") or []),
        pod_volume_types=sorted({v["type"] for v in pod_spec.get("volumes") or []}),
        probe_hosts=list(spec.get("probe_hosts") or []),
        labels=dict(pod["metadata"].get("annotations") or {}),
    )

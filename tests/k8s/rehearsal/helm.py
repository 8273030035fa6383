"""helm stand-in. `helm template` / `lint` run the REAL helm (client-side only). `helm upgrade --install` of our
chart renders it with the real helm and the same values/--set (so a bad value fails here as it would there),
then applies what the API server and kubelet would check: every namespace exists, every CRD-backed kind is
served, every image can be pulled (minikube with imagePullPolicy Never: loaded into the node, else
ErrImageNeverPull and --atomic rolls back). Platform charts need their repo added and register their CRDs; a
second kube-prometheus-stack release fails like the real one (node-exporter hostPort 9100 taken)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from kubectl import CLUSTER_SCOPED, api_known, cluster_of, forbid, resource_of
from state import fail, flag, install_chart_apis, main, take, take_all, world

REAL_HELM = os.environ.get("REHEARSAL_REAL_HELM", "helm")
WORKLOADS = {"Deployment", "Pod", "StatefulSet", "DaemonSet", "Job"}
MONITOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def real_helm(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REAL_HELM, *args], capture_output=True, text=True, timeout=120, check=False)


def pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "Pod":
        return [doc["spec"]]
    if doc["kind"] in WORKLOADS:
        return [doc["spec"]["template"]["spec"]]
    return []


def install_local(cluster: dict[str, Any], release: str, chart: str, namespace: str, args: list[str]) -> dict[str, Any]:
    import yaml  # here, not at the top: a stand-in starts on every call

    values = take_all(args, "-f", "--values")
    sets = take_all(args, "--set")
    set_files = take_all(args, "--set-file")
    if args:
        fail(f"stand-in: unsupported helm upgrade flags {args}")
    cmd = ["template", release, chart, "--namespace", namespace]
    for path in values:
        cmd += ["-f", path]
    for s in sets:
        cmd += ["--set", s]
    for s in set_files:
        cmd += ["--set-file", s]
    for api in cluster["apis"]:
        cmd += ["--api-versions", api]
    proc = real_helm(cmd)
    if proc.returncode != 0:
        fail(f"Error: UPGRADE FAILED: {proc.stderr.strip()}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    images = []
    for doc in docs:
        hook = "helm.sh/hook" in (doc["metadata"].get("annotations") or {})
        if not api_known(cluster, doc["apiVersion"], doc["kind"]):
            fail(
                f"Error: unable to build kubernetes objects from release manifest: resource mapping not found for "
                f'name: "{doc["metadata"]["name"]}": no matches for kind "{doc["kind"]}" in version '
                f'"{doc["apiVersion"]}"\nensure CRDs are installed first'
            )
        ns = doc["metadata"].get("namespace")
        if ns and ns not in cluster["namespaces"]:
            fail(f'Error: INSTALLATION FAILED: create: failed to create: namespaces "{ns}" not found')
        scope = None if doc["kind"] in CLUSTER_SCOPED else (ns or namespace)
        forbid(cluster, "create", resource_of(doc["apiVersion"], doc["kind"]), scope)
        for spec in pod_specs(doc):
            check_pull_secrets(cluster, spec, ns or namespace, release)
            for container in spec.get("initContainers", []) + spec["containers"]:
                image, policy = container["image"], container.get("imagePullPolicy", "IfNotPresent")
                images.append({"image": image, "policy": policy, "hook": hook})
                if not hook:
                    check_pull(cluster, image, policy, release)
    # What a Prometheus operator would select on: kind, namespace, name and labels of each monitor / rule object.
    monitors = [
        {
            "kind": d["kind"],
            "metadata": {
                "name": d["metadata"]["name"],
                "namespace": d["metadata"].get("namespace") or namespace,
                "labels": d["metadata"].get("labels") or {},
            },
        }
        for d in docs
        if d["kind"] in MONITOR_KINDS
    ]
    return {
        "values": values,
        "sets": sets,
        "set_files": set_files,
        "images": images,
        "objects": len(docs),
        "monitors": monitors,
    }


def check_pull_secrets(cluster: dict[str, Any], spec: dict[str, Any], namespace: str, release: str) -> None:
    """A private registry (`private_registry`): the pod needs an imagePullSecret that exists in its namespace."""
    if not cluster.get("private_registry"):
        return
    names = [s["name"] for s in spec.get("imagePullSecrets", [])]
    if not any(f"{namespace}/{name}" in cluster["secrets"] for name in names):
        fail(
            f"Error: UPGRADE FAILED: release {release} failed, and has been rolled back due to atomic being set: "
            f"context deadline exceeded (pod: ImagePullBackOff, pull access denied; imagePullSecrets {names})"
        )


def check_pull(cluster: dict[str, Any], image: str, policy: str, release: str) -> None:
    rollback = f"release {release} failed, and has been rolled back due to atomic being set: context deadline exceeded"
    if policy == "Never":
        if image not in cluster["pull_policy_never_images"]:
            fail(f"Error: UPGRADE FAILED: {rollback} (pod: ErrImageNeverPull, {image} is not on the node)")
    elif cluster["registry"] is not None and image not in cluster["registry"]:
        fail(f"Error: UPGRADE FAILED: {rollback} (pod: ImagePullBackOff, {image} not found in its registry)")


def upgrade(state: dict[str, Any], cluster: dict[str, Any], args: list[str], namespace: str) -> tuple[str, dict]:
    import yaml  # here, not at the top: a stand-in starts on every call

    flag(args, "--install")
    create_ns = flag(args, "--create-namespace")
    atomic = flag(args, "--atomic")
    wait = flag(args, "--wait")
    timeout = take(args, "--timeout")
    version = take(args, "--version")
    release, chart, rest = args[0], args[1], args[2:]
    if namespace not in cluster["namespaces"]:
        if not create_ns:
            fail(f'Error: INSTALLATION FAILED: create: failed to create: namespaces "{namespace}" not found')
        cluster["namespaces"][namespace] = {}
    info: dict[str, Any] = {"chart": chart, "version": version, "atomic": atomic, "wait": wait, "timeout": timeout}
    if Path(chart).is_dir():
        info.update(install_local(cluster, release, chart, namespace, rest))
        chart_name = yaml.safe_load((Path(chart) / "Chart.yaml").read_text())["name"]
    else:
        repo, _, chart_name = chart.partition("/")
        if repo not in state["repos"]:
            fail(f'Error: repo "{repo}" not found')
        info["values"] = take_all(rest, "-f", "--values")
        for path in info["values"]:
            if not Path(path).is_file():
                fail(f"Error: open {path}: no such file or directory")
        if rest:
            fail(f"stand-in: unsupported helm upgrade flags {rest}")
        others = [
            k for k, r in cluster["releases"].items() if r["chart_name"] == chart_name and k != f"{namespace}/{release}"
        ]
        if chart_name == "kube-prometheus-stack" and others:
            fail(
                f"Error: UPGRADE FAILED: release {release} failed, and has been rolled back due to atomic being set: "
                f"DaemonSet {release}-prometheus-node-exporter: 0/1 nodes are available: 1 node(s) didn't have free "
                f"ports for the requested pod ports (hostPort 9100 is used by release {others[0]})"
            )
        install_chart_apis(cluster, chart_name)
    key = f"{namespace}/{release}"
    revision = cluster["releases"].get(key, {}).get("revision", 0) + 1
    cluster["releases"][key] = {**info, "chart_name": chart_name, "revision": revision}
    return f'Release "{release}" has been upgraded. Happy Helming!\nREVISION: {revision}', info


def handle(args: list[str], extra: dict[str, Any]) -> str | None:
    context = take(args, "--kube-context")
    namespace = take(args, "-n", "--namespace") or "default"
    verb = args[0]
    if verb in ("template", "lint"):
        proc = real_helm([*args[:1], *(["--namespace", namespace] if namespace else []), *args[1:]])
        if proc.returncode != 0:
            fail(proc.stderr.strip())
        return proc.stdout
    if verb == "version":
        return 'version.BuildInfo{Version:"v3.18.4"}'
    with world() as state:
        if verb == "repo":
            if args[1] == "add":
                state["repos"][args[2]] = args[3]
                return f'"{args[2]}" has been added to your repositories'
            if args[1] == "update":
                missing = [r for r in args[2:] if r not in state["repos"]]
                if missing:
                    fail(f"Error: no repositories found matching '{missing[0]}'.  Nothing will be updated.")
                return "Update Complete. ⎈Happy Helming!⎈"
        cluster = cluster_of(state, context)
        if verb == "upgrade":
            out, info = upgrade(state, cluster, args[1:], namespace)
            extra["release"] = {"namespace": namespace, **info}
            return out
        if verb in ("status", "test"):
            if f"{namespace}/{args[1]}" not in cluster["releases"]:
                fail("Error: release: not found")
            return f"NAME: {args[1]}\nNAMESPACE: {namespace}\nSTATUS: deployed"
    fail(f"stand-in: unsupported helm {' '.join(args)}")


if __name__ == "__main__":
    main("helm", handle)

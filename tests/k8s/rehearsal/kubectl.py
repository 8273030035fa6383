"""kubectl stand-in: answers the queries the deploy scripts make from the recorded cluster, and refuses what the
API server would refuse (objects in a namespace that does not exist, kinds whose CRD is not installed, an
unknown context, a Secret that exists already)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from state import fail, flag, main, take, take_all, world

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterPolicy",
    "CustomResourceDefinition",
}
CORE_GROUPS = {"v1", "apps", "autoscaling", "batch", "networking.k8s.io", "policy", "rbac.authorization.k8s.io"}
# Resources (as `kubectl auth can-i` names them) that are not in any namespace.
CLUSTER_RESOURCES = {
    "*",
    "namespaces",
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "validatingadmissionpolicies.admissionregistration.k8s.io",
    "validatingadmissionpolicybindings.admissionregistration.k8s.io",
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "clusterpolicies.kyverno.io",
    "customresourcedefinitions.apiextensions.k8s.io",
}


def allowed(cluster: dict[str, Any], resource: str, namespace: str | None) -> bool:
    """RBAC of the context's user: `rbac` absent = cluster-admin; {"namespaces": [...]} = admin of those only."""
    rbac = cluster.get("rbac")
    if rbac is None:
        return True
    return namespace is not None and resource not in CLUSTER_RESOURCES and namespace in rbac["namespaces"]


def forbid(cluster: dict[str, Any], verb: str, resource: str, namespace: str | None) -> None:
    if not allowed(cluster, resource, namespace):
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        fail(f'Error from server (Forbidden): User "deployer" cannot {verb} resource "{resource}"{where}')


def resource_of(api_version: str, kind: str) -> str:
    """What `kubectl auth can-i` calls a kind: plural, lower case, .group unless core."""
    lower = kind.lower()
    plural = lower[:-1] + "ies" if lower.endswith("y") else lower + "es" if lower.endswith("s") else lower + "s"
    return f"{plural}.{api_version.split('/')[0]}" if "/" in api_version else plural


def cluster_of(state: dict[str, Any], context: str | None) -> dict[str, Any]:
    name = context or state["current_context"]
    if name is None:
        fail("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
    if name not in state["contexts"]:
        fail(f'error: context "{name}" does not exist')
    cluster = state["contexts"][name]
    if not cluster["reachable"]:
        fail(f"Unable to connect to the server: dial tcp: connect: connection refused (context {name})")
    return cluster


def api_known(cluster: dict[str, Any], api_version: str, kind: str) -> bool:
    group = api_version.split("/")[0] if "/" in api_version else "v1"
    if group in CORE_GROUPS:
        return True
    return f"{api_version}/{kind}" in cluster["apis"]


def apply(cluster: dict[str, Any], text: str, namespace: str | None) -> str:
    import yaml  # here, not at the top: a stand-in starts on every call

    lines = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        kind, meta = doc["kind"], doc["metadata"]
        if not api_known(cluster, doc["apiVersion"], kind):
            fail(
                f'error: resource mapping not found for name: "{meta["name"]}": no matches for kind "{kind}" in '
                f'version "{doc["apiVersion"]}"\nensure CRDs are installed first'
            )
        ns = None if kind in CLUSTER_SCOPED else (meta.get("namespace") or namespace or "default")
        forbid(cluster, "patch", resource_of(doc["apiVersion"], kind), ns)
        if ns is not None and ns not in cluster["namespaces"]:
            fail(f'Error from server (NotFound): namespaces "{ns}" not found')
        if kind == "Namespace":
            cluster["namespaces"][meta["name"]] = meta.get("labels") or {}
        if kind == "Secret":
            cluster["secrets"][f"{ns}/{meta['name']}"] = sorted((doc.get("data") or {}).keys())
        cluster["objects"].append({"kind": kind, "name": meta["name"], "namespace": ns})
        lines.append(f"{kind.lower()}/{meta['name']} configured")
    return "\n".join(lines)


def create_secret(cluster: dict[str, Any], args: list[str], namespace: str) -> str:
    import yaml  # here, not at the top: a stand-in starts on every call

    dry_client = take(args, "--dry-run") == "client"
    output = take(args, "-o", "--output")
    data: dict[str, str] = {}
    for literal in take_all(args, "--from-literal"):
        key, value = literal.split("=", 1)
        data[key] = base64.b64encode(value.encode()).decode()
    for spec in take_all(args, "--from-file"):
        key, path = spec.split("=", 1)
        if not Path(path).is_file():
            fail(f"error: error reading {path}: no such file or directory")
        data[key] = base64.b64encode(Path(path).read_bytes()).decode()
    if len(args) != 3 or args[:2] != ["secret", "generic"]:
        fail(f"stand-in: unsupported kubectl create {' '.join(args)}")
    name = args[2]
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}
    if dry_client:
        if output != "yaml":
            fail("stand-in: kubectl create --dry-run=client only with -o yaml")
        return yaml.safe_dump(doc)
    if namespace not in cluster["namespaces"]:
        fail(f'error: failed to create secret namespaces "{namespace}" not found')
    if f"{namespace}/{name}" in cluster["secrets"]:
        fail(f'error: failed to create secret secrets "{name}" already exists')
    cluster["secrets"][f"{namespace}/{name}"] = sorted(data)
    return f"secret/{name} created"


def get(cluster: dict[str, Any], args: list[str], namespace: str, output: str | None) -> str:
    kind, name = [*args, None, None][:2]
    if kind in ("namespace", "ns", "namespaces"):
        if name not in cluster["namespaces"]:
            fail(f'Error from server (NotFound): namespaces "{name}" not found')
        return f"{name}   Active   1d"
    if kind in ("secret", "secrets"):
        if f"{namespace}/{name}" not in cluster["secrets"]:
            fail(f'Error from server (NotFound): secrets "{name}" not found')
        return f"{name}   Opaque   {len(cluster['secrets'][f'{namespace}/{name}'])}   1d"
    if kind in ("mutatingwebhookconfigurations", "mutatingwebhookconfiguration") and output == "name":
        forbid(cluster, "list", "mutatingwebhookconfigurations.admissionregistration.k8s.io", None)
        return "\n".join(
            f"mutatingwebhookconfiguration.admissionregistration.k8s.io/{w}" for w in cluster.get("webhooks", [])
        )
    forbid(cluster, "get", {"service": "services"}.get(str(kind), str(kind)), namespace)
    if (kind, name, namespace) == ("endpoints", "kubernetes", "default"):
        answers = {
            "jsonpath={.subsets[*].addresses[*].ip}": " ".join(cluster["endpoints"]["ips"]),
            "jsonpath={.subsets[*].ports[*].port}": " ".join(map(str, cluster["endpoints"]["ports"])),
        }
    elif (kind, name, namespace) == ("service", "kubernetes", "default"):
        answers = {"jsonpath={.spec.clusterIP}": cluster["endpoints"]["cluster_ip"]}
    else:
        fail(f"stand-in: unsupported kubectl get {' '.join(args)}")
    if output not in answers:
        fail(f"stand-in: unsupported output {output!r} for kubectl get {kind} {name}")
    return answers[output]


def handle(args: list[str], extra: dict[str, Any]) -> str | None:
    context = take(args, "--context")
    given = take(args, "-n", "--namespace")
    namespace_given = given is not None
    namespace = given or "default"
    output = take(args, "-o", "--output") if "create" not in args else None
    # Read a piped manifest before taking the lock: the writer of the pipe may be waiting for that lock.
    stdin = sys.stdin.read() if args[:1] == ["apply"] and "-" in args else ""
    with world() as state:
        cluster = cluster_of(state, context)
        verb, rest = args[0], args[1:]
        if verb == "version":
            return "Client Version: v1.33.5\nKustomize Version: v5.6.0\nServer Version: v1.33.5"
        if verb == "api-versions":
            return "\n".join(sorted({a.rsplit("/", 1)[0] if a.count("/") == 2 else a for a in cluster["apis"]}))
        if verb == "api-resources":
            if output != "name":
                fail("stand-in: kubectl api-resources only with -o name")
            return "\n".join(sorted(cluster["resources"]))
        if verb == "apply":
            import yaml  # here, not at the top: a stand-in starts on every call

            source = take(rest, "-f", "--filename")
            if source is None or rest:
                fail(f"stand-in: unsupported kubectl apply {' '.join(rest)}")
            text = stdin if source == "-" else Path(source).read_text()
            extra["applied"] = [
                {"kind": d["kind"], "name": d["metadata"]["name"]} for d in yaml.safe_load_all(text) if d
            ]
            return apply(cluster, text, namespace)
        if verb == "auth" and rest[:1] == ["can-i"]:
            flag(rest, "--quiet")
            scope = namespace if namespace_given else None
            extra["can_i"] = {"verb": rest[1], "resource": rest[2], "namespace": scope}
            if not allowed(cluster, rest[2], scope):
                fail("no")
            return "yes"
        if verb == "create":
            if rest[:1] == ["namespace"]:
                forbid(cluster, "create", "namespaces", None)
                if rest[1] in cluster["namespaces"]:
                    fail(f'Error from server (AlreadyExists): namespaces "{rest[1]}" already exists')
                cluster["namespaces"][rest[1]] = {}
                return f"namespace/{rest[1]} created"
            return create_secret(cluster, rest, namespace)
        if verb == "get":
            return get(cluster, rest, namespace, output)
        if verb == "exec":
            flag(rest, "-i")
            return ""
        fail(f"stand-in: unsupported kubectl {' '.join(args)}")


if __name__ == "__main__":
    main("kubectl", handle)

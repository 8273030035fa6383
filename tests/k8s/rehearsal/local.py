"""minikube and docker stand-ins. `minikube start` creates a profile and its kube context (a fresh 1.33 cluster
with the ingress add-on's namespace); `minikube image load` copies an image from the local Docker images into the
node, and fails like the real one when the image was never built. docker answers `build` (-t tags become local
images), `image inspect`, `tag`, `push` (a digest per pushed reference), `login`."""

from __future__ import annotations

import hashlib
import sys
from typing import Any

from state import fail, flag, main, new_cluster, take, take_all, world


def minikube(args: list[str], extra: dict[str, Any]) -> str | None:
    profile = take(args, "-p", "--profile") or "minikube"
    with world() as state:
        if args[0] == "start":
            rest = args[1:]
            settings = {
                "kubernetes_version": take(rest, "--kubernetes-version"),
                "cni": take(rest, "--cni"),
                "cpus": take(rest, "--cpus"),
                "memory": take(rest, "--memory"),
                "addons": take_all(rest, "--addons"),
                "driver": take(rest, "--driver"),
            }
            if rest:
                fail(f"stand-in: unsupported minikube start flags {rest}")
            extra["profile"] = {"name": profile, **settings}
            state["minikube"][profile] = {**settings, "running": True}
            if profile not in state["contexts"]:
                namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
                if "ingress" in settings["addons"]:
                    namespaces.append("ingress-nginx")
                cluster = new_cluster(namespaces)
                cluster["endpoints"] = {"ips": ["192.168.49.2"], "ports": [8443], "cluster_ip": "10.96.0.1"}
                state["contexts"][profile] = cluster
            state["current_context"] = profile
            return f'Done! kubectl is now configured to use "{profile}" cluster and "default" namespace by default'
        node = state["minikube"].get(profile)
        if node is None or not node["running"]:
            fail(f'Profile "{profile}" not found. Run "minikube profile list" to view all profiles.', 85)
        if args[0] == "status":
            return "host: Running\nkubelet: Running\napiserver: Running\nkubeconfig: Configured"
        if args[:2] == ["image", "load"] and len(args) == 3:
            image = args[2]
            if image not in state["docker_images"]:
                fail(f"X Exiting due to GUEST_IMAGE_LOAD: Failed to load image: {image}: not found locally", 80)
            cluster = state["contexts"][profile]
            cluster["pull_policy_never_images"] = sorted(set(cluster["pull_policy_never_images"]) | {image})
            return ""
    fail(f"stand-in: unsupported minikube {' '.join(args)}")


def docker(args: list[str], extra: dict[str, Any]) -> str | None:
    with world() as state:
        images = state["docker_images"]
        if args[:2] == ["image", "inspect"]:
            take(args, "--format", "-f")
            missing = [name for name in args[2:] if name not in images]
            if missing:
                fail(f"Error response from daemon: No such image: {missing[0]}")
            return "[]"
        if args[0] == "build":
            tags = take_all(args, "-t", "--tag")
            extra["tags"] = tags
            state["docker_images"] = sorted(set(images) | set(tags))
            return "sha256:" + hashlib.sha256(" ".join(tags).encode()).hexdigest()
        if args[0] == "tag" and len(args) == 3:
            if args[1] not in images:
                fail(f"Error response from daemon: No such image: {args[1]}")
            state["docker_images"] = sorted(set(images) | {args[2]})
            return ""
        if args[0] == "push":
            flag(args, "--quiet")
            ref = args[1]
            if ref not in images:
                fail(f"An image does not exist locally with the tag: {ref}")
            digest = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
            state["pushed"][ref] = digest
            return f"{ref.rsplit(':', 1)[1]}: digest: {digest} size: 1234"
        if args[0] == "login":
            sys.stdin.read()
            return "Login Succeeded"
        if args[0] == "version":
            return "Client: Docker Engine - stand-in\nServer: Docker Engine - stand-in"
    fail(f"docker: '{args[0]}' is not supported by the rehearsal stand-in")


if __name__ == "__main__":
    tool = sys.argv.pop(1)
    main(tool, {"minikube": minikube, "docker": docker}[tool])

"""One finding fingerprint (source, workload identity, rule) for posture answers, SARIF and history.

Recreating a container (compose: new id; Kubernetes: new pod name and container id) keeps every finding's
fingerprint, in GET /api/posture and in what the recorder stores. Containers come from the recorded Docker
answers and the recorded API-server pods (fixtures/), through the real normalisation code.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from conftest import RecordedBackend, load_fixture, make_app, service_for
from inventory.backends.docker import container_from_list_entry, detail_from_inspect
from inventory.backends.kubernetes import container_from_pod, security_from_pod, trim_pod
from inventory.backends.kubernetes.mapping import iter_containers
from inventory.posture import evaluate_container
from inventory.recorder.observe import observe
from inventory.workload import fingerprint

PODS = Path(__file__).parent / "fixtures" / "k8s"


def _pods() -> dict[str, dict[str, Any]]:
    items = [
        p for f in ("podlist-page1.json", "podlist-page2.json") for p in json.loads((PODS / f).read_text())["items"]
    ]
    return {p["metadata"]["name"]: p for p in items}


def _pod_findings(pod: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """fingerprint -> (container id, rule) of every container of the pod."""
    trimmed = trim_pod(pod)
    out: dict[str, tuple[str, str]] = {}
    for spec, status in iter_containers(trimmed):
        container = container_from_pod(trimmed, spec, status)
        for f in evaluate_container(container, security_from_pod(trimmed, spec), "kubernetes").findings:
            out[f.fingerprint] = (container.id, f.rule)
    return out


def _recreate(pod: dict[str, Any], name: str, salt: str) -> dict[str, Any]:
    """The controller's replacement: a new pod name (unless stable), uid and container ids."""
    new = copy.deepcopy(pod)
    new["metadata"] |= {"name": name, "uid": f"{salt}-uid"}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for status in new["status"].get(key) or []:
            if status.get("containerID"):
                status["containerID"] = "containerd://" + (salt * 64)[:64]
    return new


def _same_findings(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> None:
    assert before, "the fixture pod must have findings"
    assert set(after) == set(before)  # the same fingerprints ...
    assert {cid for cid, _ in after.values()}.isdisjoint({cid for cid, _ in before.values()})  # ... new containers
    assert sorted(r for _, r in after.values()) == sorted(r for _, r in before.values())


def test_kubernetes_pods_keep_their_fingerprints_when_recreated() -> None:
    pods = _pods()
    # A Deployment's pod (ReplicaSet pods carry pod-template-hash); a replacement pod and a new rollout.
    worker = pods["worker-79c6d8f5b-lm2np"]
    worker["metadata"]["labels"]["pod-template-hash"] = "79c6d8f5b"  # pragma: allowlist secret
    before = _pod_findings(worker)
    _same_findings(before, _pod_findings(_recreate(worker, "worker-79c6d8f5b-q9z8t", "a")))
    rollout = _recreate(worker, "worker-5b7f9c6d4-h2x7k", "b")
    rollout["metadata"]["labels"]["pod-template-hash"] = "5b7f9c6d4"  # pragma: allowlist secret
    _same_findings(before, _pod_findings(rollout))
    # A StatefulSet pod comes back under its own name; a Job's retry pod gets a new suffix.
    web = pods["legacy-web-0"]
    _same_findings(_pod_findings(web), _pod_findings(_recreate(web, "legacy-web-0", "c")))
    job = pods["nightly-backup-29391840-7kq9d"]
    _same_findings(_pod_findings(job), _pod_findings(_recreate(job, "nightly-backup-29391840-x4m2p", "d")))
    # Different workloads never share a fingerprint.
    assert not set(before) & set(_pod_findings(pods["report-5c8f6d7b9-qq7zs"]))


def test_compose_containers_keep_their_fingerprints_when_recreated() -> None:
    entry = next(e for e in load_fixture("list.json") if "com.docker.compose.service" in e["Labels"])
    raw = load_fixture("inspect-insecure.json")

    def findings(list_entry: dict[str, Any]) -> dict[str, str]:
        inspect = dict(raw, Id=list_entry["Id"], Name=list_entry["Names"][0], Config={**raw["Config"], "Labels": {}})
        container, detail = container_from_list_entry(list_entry), detail_from_inspect(inspect)
        report = evaluate_container(container, detail.security, "docker")
        return {f.rule: f.fingerprint for f in report.findings}

    before = findings(entry)
    # `docker compose up --force-recreate`: a new id (compose v2 names it with dashes, v1 with underscores).
    again = findings(dict(entry, Id="f" * 64, Names=["/inventory-socket-proxy-1"]))
    assert before and again == before
    project, service = entry["Labels"]["com.docker.compose.project"], entry["Labels"]["com.docker.compose.service"]
    rule = next(iter(before))
    assert before[rule] == fingerprint("local", f"compose:{project}/{service}/1", rule)
    # The second replica of the service is another workload.
    second = dict(entry, Id="e" * 64, Labels={**entry["Labels"], "com.docker.compose.container-number": "2"})
    assert not set(findings(second).values()) & set(before.values())


def test_posture_sarif_and_history_carry_the_same_fingerprints(backend: RecordedBackend) -> None:
    svc = service_for(backend, CACHE_TTL="0")
    report = svc.posture(include_stopped=True)
    posture = {f.fingerprint: (f.source, f.workload, f.rule) for f in report.findings}
    recorded, _ = observe(svc)
    assert posture and set(recorded.findings) == set(posture)
    for fp, f in recorded.findings.items():
        assert (f.source, f.workload, f.rule) == posture[fp] and fp == fingerprint(f.source, f.workload, f.rule)
    client = make_app(backend).test_client()
    body = client.get("/api/posture?all=true").get_json()
    served = {f["fingerprint"] for c in body["containers"] for f in c["findings"]}
    sarif = client.get("/api/posture?all=true&format=sarif").get_json()
    partial = {r["partialFingerprints"]["containerInventoryFinding/v2"] for r in sarif["runs"][0]["results"]}
    assert served == partial == set(posture)

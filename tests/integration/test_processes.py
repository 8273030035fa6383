"""CIS 5.7 / 5.23 / 5.24 on the real engine, through the real socket proxy, from inside the API container.

The canary container runs `sh -c "sleep 3600 # --password=<canary>"`: its argument list carries the secret. A
privileged exec as root and an exec as nobody run commands that carry a second secret. The proxy must give the API
the executable names (top), the exec's container, privileged and user (exec inspect and exec events), and neither
secret anywhere: not in those answers, not in the event stream, not in any log.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.integration.test_live import EVENTS_PROBE
from tests.support.stack import Stack

PROXY_GET = r"""
import http.client, json, sys
conn = http.client.HTTPConnection("socket-proxy", 2375, timeout=10)
conn.request("GET", sys.argv[1])
resp = conn.getresponse()
print(json.dumps({"status": resp.status, "body": resp.read().decode()}))
"""


def _from_the_api(stack: Stack, script: str, *args: str) -> dict[str, Any]:
    code, raw = stack.container("flask-api").exec_run(["python3", "-c", script, *args])
    assert code == 0, raw.decode()
    result: dict[str, Any] = json.loads(raw.decode().strip().splitlines()[-1])
    return result


def test_top_gives_executable_names_and_never_the_arguments(stack: Stack, canary_container: Any, canary: str):
    result = _from_the_api(stack, PROXY_GET, f"/containers/{canary_container.id}/top")
    assert result["status"] == 200, result
    assert canary not in result["body"] and "password" not in result["body"]
    doc = json.loads(result["body"])
    names = {row[0] for row in doc["Processes"]}
    assert doc["Titles"] == ["COMMAND"] and names and names <= {"sh", "sleep"}, doc
    refused = _from_the_api(stack, PROXY_GET, f"/containers/{canary_container.id}/top?ps_args=eww")
    assert refused["status"] == 403  # `ps e` would print environments: never asked of the engine


def test_exec_inspect_and_events_carry_privileged_and_user_never_the_command(
    stack: Stack, client: Any, canary_container: Any
) -> None:
    secret = f"EXEC-CANARY-{uuid.uuid4().hex}"
    since = f"{time.time() - 1:.3f}"
    api = client.api
    runs = {}
    for privileged, user in ((True, "root"), (False, "nobody")):
        exec_id = api.exec_create(canary_container.id, ["sh", "-c", f": {secret}"], privileged=privileged, user=user)
        api.exec_start(exec_id["Id"])
        runs[exec_id["Id"]] = (privileged, user)
    for exec_id, (privileged, user) in runs.items():
        result = _from_the_api(stack, PROXY_GET, f"/exec/{exec_id}/json")
        assert result["status"] == 200 and secret not in result["body"], result
        doc = json.loads(result["body"])
        assert doc["ContainerID"] == canary_container.id
        assert doc["ProcessConfig"] == {"privileged": privileged, "user": user}
    until = f"{time.time() + 1:.3f}"
    stream = _from_the_api(stack, EVENTS_PROBE, since, until)
    assert stream["status"] == 200 and secret not in stream["body"]
    events = [json.loads(line) for line in stream["body"].splitlines() if line.strip()]
    started = {
        e["Actor"]["Attributes"]["execID"]: e["Actor"]["Attributes"] for e in events if e["Action"] == "exec_start"
    }
    for exec_id, (privileged, user) in runs.items():
        assert started[exec_id]["privileged"] == str(privileged).lower() and started[exec_id]["user"] == user
    for c in stack.containers():
        assert secret not in c.logs().decode(errors="replace"), c.name

"""What the proxy removes from inspect answers, as the README promises: `Path`, `Args`, `Config.Env`, `Cmd`,
`Entrypoint`, `OnBuild`, healthcheck commands, log-driver options and the storage driver's `GraphDriver.Data`
(host paths of every layer). Every such field carries a secret-looking canary: the answer leaving the proxy
(`filter_body`, the function the handler applies) must not contain it anywhere, the fields are removed (not
masked in place), and what the posture rules read is kept."""

from __future__ import annotations

import json

import pytest
import socket_proxy as sp

CANARY = "CANARY-redact-hunter2"
SECRET = f"--password={CANARY}"


def inspect_doc() -> dict:
    return {
        "Id": "b" * 64,
        "Path": f"/opt/{CANARY}/bin/app",
        "Args": [SECRET],
        "Config": {
            "Env": [f"TOKEN={CANARY}"],
            "Cmd": [SECRET],
            "Entrypoint": ["/bin/sh", "-c", f"app {SECRET}"],
            "OnBuild": [f"RUN curl -H 'Authorization: {CANARY}' https://example.invalid"],
            "User": "10001",
            "Image": "registry.local/app@sha256:" + "0" * 64,
            "Healthcheck": {"Test": ["CMD-SHELL", f"curl -u admin:{CANARY} localhost"]},
        },
        "HostConfig": {
            "CapDrop": ["ALL"],
            "Privileged": False,
            "LogConfig": {"Type": "splunk", "Config": {"splunk-token": CANARY}},
        },
        "GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": f"/var/lib/docker/overlay2/{CANARY}/merged"}},
    }


def passed() -> dict:
    return json.loads(sp.filter_body("inspect", json.dumps(inspect_doc()).encode()))


def test_no_canary_leaves_the_proxy() -> None:
    assert CANARY not in json.dumps(passed())


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ((), "Path"),
        ((), "Args"),
        (("Config",), "Env"),
        (("Config",), "Cmd"),
        (("Config",), "Entrypoint"),
        (("Config",), "OnBuild"),
    ],
)
def test_command_and_environment_fields_are_removed(where: tuple[str, ...], field: str) -> None:
    doc = passed()
    for key in where:
        doc = doc[key]
    assert field not in doc


def test_storage_paths_and_log_options_are_emptied_security_fields_kept() -> None:
    doc = passed()
    assert doc["GraphDriver"] == {"Name": "overlay2", "Data": None}
    assert doc["HostConfig"]["LogConfig"] == {"Type": "splunk", "Config": {}}
    assert doc["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "[redacted]"]
    assert doc["Config"]["User"] == "10001" and doc["HostConfig"]["CapDrop"] == ["ALL"]
    assert doc["Config"]["Image"] == inspect_doc()["Config"]["Image"]

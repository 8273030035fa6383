"""Processes and execs through the socket proxy (CIS Docker 5.7, 5.23, 5.24), without their command lines.

Which processes run in a container (is there an sshd?) and how a `docker exec` ran (privileged? as which user?) are
facts the posture rules need; the arguments, environment and exec commands around them are secrets, and never pass:

* GET /containers/{id}/top: the engine is asked for `ps -o pid,comm` only (the client may send no ps_args: they go
  to `ps` on the host and could ask for environments), and each process is reduced to its executable name (the
  kernel's comm: the file that was executed, not argv[0]); no PID, user or argument passes.
* GET /exec/{id}/json: reduced to the exec's id, container, running/exit code, privileged and user. The
  ProcessConfig's entrypoint and arguments (the command) are dropped.
* exec events: rebuilt by events_filter.filter_event; `exec_facts` gives them privileged and user from the inspect.

Standard library only (copied next to socket_proxy.py).
"""

from __future__ import annotations

import re
from typing import Any

# What the proxy asks the engine for, whatever the client asked (it may ask nothing: any query is refused).
TOP_QUERY = "ps_args=-o%20pid,comm"
EXEC_ID = re.compile(r"^[0-9a-f]{64}$")
_NAME_MAX = 64


def executable_name(command: str) -> str:
    """A process's executable name: the first word, without its directory ("-bash" -> "bash", "sshd:" -> "sshd")."""
    words = command.split()
    name = words[0].rsplit("/", 1)[-1].lstrip("-").rstrip(":") if words else ""
    return name[:_NAME_MAX] or "?"


def reduce_top(doc: dict[str, Any]) -> dict[str, Any]:
    """{"Titles": ["COMMAND"], "Processes": [[name], ...]}: every process, nothing but its executable name."""
    titles = doc.get("Titles")
    titles = titles if isinstance(titles, list) else []
    column = next((i for i, t in enumerate(titles) if t in ("COMMAND", "CMD", "COMM")), None)
    names = []
    for row in doc.get("Processes") or []:
        if column is not None and isinstance(row, list) and column < len(row) and isinstance(row[column], str):
            names.append([executable_name(row[column])])
    return {"Titles": ["COMMAND"], "Processes": names}


def reduce_exec(doc: dict[str, Any]) -> dict[str, Any]:
    """An exec inspect without its command: id, container, state, privileged and user."""
    process = doc.get("ProcessConfig")
    process = process if isinstance(process, dict) else {}
    exit_code = doc.get("ExitCode")
    return {
        "ID": str(doc.get("ID") or ""),
        "ContainerID": str(doc.get("ContainerID") or ""),
        "Running": doc.get("Running") is True,
        "ExitCode": exit_code if isinstance(exit_code, int) else None,
        "ProcessConfig": {"privileged": process.get("privileged") is True, "user": str(process.get("user") or "")},
    }


def exec_attributes(doc: dict[str, Any]) -> dict[str, str]:
    """The event attributes an exec inspect gives an exec_create/exec_start event."""
    process = reduce_exec(doc)["ProcessConfig"]
    return {"privileged": "true" if process["privileged"] else "false", "user": process["user"]}

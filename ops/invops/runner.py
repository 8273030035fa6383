"""Run external commands with --dry-run support and progress lines on stderr."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence

from invops.errors import MissingTool, OpsError


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays parseable (JSON, command lists)."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise MissingTool(f"required tool not found on PATH: {tool}")
    return path


class Runner:
    """Executes commands, or in dry-run mode prints them (to stdout, one per line, shell-quoted)."""

    def __init__(self, dry_run: bool = False) -> None:
        self.dry_run = dry_run

    def run(
        self,
        cmd: Sequence[str],
        *,
        capture: bool = False,
        check: bool = True,
        input_bytes: bytes | None = None,
        timeout: float | None = None,
        mutating: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run cmd. Read-only commands (mutating=False) still run in dry-run mode when their tool exists."""
        line = shlex.join(cmd)
        if self.dry_run and (mutating or shutil.which(cmd[0]) is None):
            print(line, flush=True)
            return subprocess.CompletedProcess(list(cmd), 0, b"", b"")
        require(cmd[0])
        try:
            proc = subprocess.run(list(cmd), capture_output=capture, input=input_bytes, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise OpsError(f"timed out after {timeout}s: {line}") from exc
        if check and proc.returncode != 0:
            detail = (proc.stderr or b"").decode(errors="replace").strip().splitlines()
            tail = f": {detail[-1]}" if detail else ""
            raise OpsError(f"command failed (exit {proc.returncode}): {cmd[0]} {cmd[1] if len(cmd) > 1 else ''}{tail}")
        return proc

"""CLI contract: --help everywhere, one-line errors with documented exit codes, k8s rollback decision logic.

There is no Kubernetes API server on this machine, so the rollback logic is exercised against recording
`helm`/`kubectl` stand-ins on PATH (they log argv and fail where the scenario says); the real binaries'
behaviour is not simulated beyond exit codes and `helm history -o json` output.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from invops.cli import build_parser

from tests.ops.conftest import invops

COMMANDS = [
    ["etcd", "snapshot"],
    ["etcd", "verify"],
    ["etcd", "restore"],
    ["etcd", "prune"],
    ["volume", "backup"],
    ["volume", "restore"],
    ["volume", "verify"],
    ["image", "save"],
    ["image", "load"],
    ["config", "export"],
    ["config", "restore"],
    ["rollback", "k8s"],
    ["rollback", "docker"],
    ["deploy", "docker"],
]
MUTATING = [c for c in COMMANDS if c[1] not in ("verify",)]


@pytest.mark.parametrize("cmd", [[], *[[c[0]] for c in COMMANDS], *COMMANDS], ids=lambda c: " ".join(c) or "root")
def test_help_everywhere(cmd):
    res = invops(*cmd, "--help")
    assert res.returncode == 0 and "usage: invops" in res.stdout
    if len(cmd) == 2:
        assert "exit codes:" in res.stdout
        assert ("--dry-run" in res.stdout) == (cmd in MUTATING)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["etcd", "restore", "/nonexistent"], "--data-dir"),
        (["etcd", "prune", "--root", "/tmp", "--keep", "zero"], "not an integer"),
        (
            ["deploy", "docker", "-p", "x", "-f", "c.yaml", "-s", "web", "--image", "a:b", "--health-timeout", "-1"],
            "must be > 0",
        ),
        (["volume", "frobnicate"], "invalid choice"),
        (["image", "save", "--out", "/tmp"], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    res = invops(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("invops: error:") and needle in lines[0]


def test_missing_backup_is_verify_failure(tmp_path):
    res = invops("volume", "verify", str(tmp_path / "nope"))
    assert (
        res.returncode == 3 and res.stderr.strip() == f"invops: error: backup directory not found: {tmp_path / 'nope'}"
    )


def test_parser_rejects_unknown_options():
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["etcd", "verify", "x", "--bogus"])
    assert exc.value.code == 2


STANDIN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$OPS_LOG"
case "$(basename "$0") $*" in
  "helm history"*) cat "$OPS_HISTORY"; exit 0 ;;
esac
for pattern in $OPS_FAIL; do
  case "$(basename "$0") $*" in *"$pattern"*) echo "simulated failure: $*" >&2; exit 1 ;; esac
done
exit 0
"""


@pytest.fixture
def cluster(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("helm", "kubectl"):
        path = bindir / tool
        path.write_text(STANDIN)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    history = [
        {"revision": 3, "status": "superseded"},
        {"revision": 4, "status": "failed"},
        {"revision": 5, "status": "deployed"},
    ]
    (tmp_path / "history.json").write_text(json.dumps(history))
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "OPS_LOG": str(tmp_path / "log"),
        "OPS_HISTORY": str(tmp_path / "history.json"),
        "OPS_FAIL": "",
        "INVOPS_SMOKE_ATTEMPTS": "2",
    }

    def run(*extra: str, fail: str = "") -> tuple[int, list[str], str]:
        log = Path(env["OPS_LOG"])
        log.unlink(missing_ok=True)
        res = invops(
            "rollback",
            "k8s",
            "--release",
            "inventory",
            "-n",
            "inventory",
            "--deployment",
            "inventory-flask-api",
            *extra,
            env={**env, "OPS_FAIL": fail},
        )
        return res.returncode, log.read_text().splitlines() if log.exists() else [], res.stderr

    return run


def test_rollback_picks_last_good_revision_then_checks_rollout(cluster):
    code, calls, _ = cluster()
    assert code == 0
    assert calls == [
        "helm history inventory -n inventory -o json --max 20",
        "helm rollback inventory 3 -n inventory --wait --timeout 5m --cleanup-on-fail",
        "kubectl rollout status deployment/inventory-flask-api -n inventory --timeout=5m",
    ]


def test_rollback_falls_back_to_rollout_undo(cluster):
    code, calls, err = cluster("--revision", "2", fail="helm rollback")
    assert code == 0, err
    assert calls[-2:] == [
        "kubectl rollout undo deployment/inventory-flask-api -n inventory",
        "kubectl rollout status deployment/inventory-flask-api -n inventory --timeout=5m",
    ]
    assert "falling back to kubectl rollout undo" in err


def test_rollback_failing_everywhere_exits_6(cluster):
    code, _, err = cluster(fail="helm rollback rollout undo")
    assert code == 6 and err.strip().splitlines()[-1].startswith("invops: error: fallback rollout undo failed")


def test_rollback_dry_run_prints_commands_and_changes_nothing(cluster):
    code, calls, _ = cluster("--dry-run", "--smoke-url", "http://127.0.0.1:8080")
    assert code == 0
    # Only the history was read (an empty call list would also "change nothing": require the read).
    assert calls == ["helm history inventory -n inventory -o json --max 20"]


@pytest.fixture
def nginx_like():
    """A real local HTTP server on 127.0.0.1 answering /healthz and /api/version (status settable)."""
    import http.server
    import threading

    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(state["status"] if self.path in ("/healthz", "/api/version") else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def test_rollback_smoke_test_through_nginx(cluster, nginx_like):
    url, state = nginx_like
    assert cluster("--smoke-url", url)[0] == 0
    state["status"] = 502
    code, calls, err = cluster("--smoke-url", url)
    # smoke failed after helm rollback -> rollout undo -> smoke fails again -> exit 6
    assert code == 6 and "kubectl rollout undo deployment/inventory-flask-api -n inventory" in calls
    assert "smoke test through" in err

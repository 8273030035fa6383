"""SOURCES_FILE: schema validation (jsonschema), the checks a schema cannot make, and the env default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from inventory.config import ConfigError
from inventory.fleet.config import SCHEMA_PATH, SourceConfig, parse_sources
from inventory.wiring import configure
from jsonschema import Draft202012Validator

API_DIR = Path(__file__).resolve().parents[1]
EXAMPLE = API_DIR.parent / "deploy" / "fleet" / "sources.example.yaml"


def test_the_schema_is_valid_and_the_example_file_matches_it() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(yaml.safe_load(EXAMPLE.read_text()))


def test_a_file_with_every_kind_of_source(tmp_path: Path) -> None:
    for name in ("ca.pem", "api.pem", "api-key.pem", "kubeconfig"):
        (tmp_path / name).write_text("test\n")
    text = f"""
defaults: {{timeout: 2}}
sources:
  - {{name: local, type: docker, url: "tcp://socket-proxy:2375"}}
  - name: edge-1
    type: docker
    url: tcp://10.0.0.7:2376
    timeout: 4
    tls: {{ca: {tmp_path}/ca.pem, cert: {tmp_path}/api.pem, key: {tmp_path}/api-key.pem}}
  - {{name: pod, type: podman, url: "unix:///run/podman/podman.sock"}}
  - {{name: prod, type: kubernetes, kubeconfig: {tmp_path}/kubeconfig, context: prod, namespaces: [a, b]}}
  - {{name: here, type: kubernetes, in_cluster: true}}
"""
    local, edge, pod, prod, here = parse_sources(text, "test", 1.5)
    assert (local.kind, local.timeout, local.tls, local.endpoint) == ("docker", 2.0, None, "tcp://socket-proxy:2375")
    assert edge.timeout == 4.0 and edge.tls is not None and edge.tls.key == f"{tmp_path}/api-key.pem"
    assert pod.kind == "podman" and pod.endpoint == "unix:///run/podman/podman.sock"
    assert prod.namespaces == ("a", "b") and prod.context == "prod" and prod.endpoint == "kubeconfig context prod"
    assert here.in_cluster and here.endpoint == "in-cluster"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: [", "not valid YAML/JSON at line 1"),
        ("[]", "(top level): [] is not of type 'object'"),
        ("sources: []", "sources: [] should be non-empty"),
        ("sources: [{name: a, type: docker}]", "sources[0]: 'url' is a required property"),
        ("sources: [{name: Bad_Name, type: docker, url: 'unix:///x'}]", "sources[0].name: 'Bad_Name' does not match"),
        ("sources: [{name: a, type: lxc}]", "sources[0].type: 'lxc' is not one of"),
        ("sources: [{name: a, type: docker, url: 'ftp://x'}]", "sources[0].url: 'ftp://x' does not match"),
        ("sources: [{name: a, type: docker, url: 'tcp://u:p@x:1'}]", "sources[0].url: 'tcp://u:p@x:1' does not match"),
        ("sources: [{name: a, type: docker, url: 'unix:///x', timeout: 0}]", "sources[0].timeout: 0 is less than"),
        ("sources: [{name: a, type: docker, url: 'unix:///x', port: 1}]", "sources[0]: Additional properties"),
        ("sources: [{name: a, type: kubernetes, url: 'unix:///x'}]", "sources[0]: Additional properties"),
        ("sources: [{name: a, type: docker, url: 'unix:///x', tls: {ca: /a}}]", "sources[0].tls: 'cert' is a required"),
        (
            "sources: [{name: a, type: docker, url: 'unix:///x', tls: {ca: /a, cert: /b, key: /c}}]",
            "sources[0].tls: mutual TLS needs a tcp:// or https:// url",
        ),
        (
            "sources: [{name: a, type: docker, url: 'tcp://x:1', tls: {ca: /nonexistent, cert: /b, key: /c}}]",
            "sources[0]: tls ca file '/nonexistent' does not exist or is not readable",
        ),
        ("sources: [{name: a, type: kubernetes}]", "sources[0]: a kubernetes source needs either in_cluster"),
        (
            "sources: [{name: a, type: kubernetes, in_cluster: true, context: x}]",
            "sources[0]: a kubernetes source needs either in_cluster",
        ),
        (
            "sources: [{name: a, type: podman, url: 'unix:///x'}, {name: a, type: docker, url: 'unix:///y'}]",
            "sources[1].name: 'a' is used by another source",
        ),
    ],
)
def test_malformed_files_give_one_line_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_sources(text, "f.yaml", 1.5)
    assert str(err.value).startswith("f.yaml: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_configure_reads_sources_file_and_reports_problems_as_config_errors(tmp_path: Path) -> None:
    good = tmp_path / "sources.yaml"
    good.write_text(
        "sources: [{name: one, type: docker, url: 'unix:///a.sock'}, {name: two, type: podman, url: 'unix:///b'}]"
    )
    config = configure({"SOURCES_FILE": str(good)})
    assert [s.name for s in config.sources] == ["one", "two"] and config.settings.sources_file == str(good)
    with pytest.raises(ConfigError, match=r"SOURCES_FILE='/nonexistent.yaml' cannot be read: FileNotFoundError"):
        configure({"SOURCES_FILE": "/nonexistent.yaml"})


def test_the_environment_describes_one_source_named_local() -> None:
    (src,) = configure({"DOCKER_HOST": "tcp://user:secret@socket-proxy:2375"}).sources
    assert src == SourceConfig(name="local", kind="docker", timeout=1.5, url="tcp://user:secret@socket-proxy:2375")
    assert src.endpoint == "tcp://socket-proxy:2375"  # never the credentials
    (k8s,) = configure({"INVENTORY_BACKEND": "kubernetes", "SOURCE_NAME": "prod", "K8S_NAMESPACES": "a"}).sources
    assert (k8s.name, k8s.kind, k8s.in_cluster, k8s.namespaces) == ("prod", "kubernetes", True, ("a",))
    with pytest.raises(ConfigError, match="SOURCE_NAME='No Good'"):
        configure({"SOURCE_NAME": "No Good"})


def test_docker_tls_variables_name_the_client_certificate(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("test\n")
    env = {"DOCKER_HOST": "tcp://proxy:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    (src,) = configure(env).sources
    assert src.tls is not None and src.tls.cert == str(tmp_path / "cert.pem")
    with pytest.raises(ConfigError, match="DOCKER_CERT_PATH"):
        configure({**env, "DOCKER_CERT_PATH": str(tmp_path / "missing")})


def test_real_gunicorn_refuses_a_malformed_sources_file(tmp_path: Path) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - {name: a, type: docker}\n")
    env = {**os.environ, "SOURCES_FILE": str(bad), "PYTHONPATH": str(API_DIR)}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [str(gunicorn), "-c", str(API_DIR / "gunicorn.conf.py"), "inventory.wsgi:app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"inventory: invalid configuration: SOURCES_FILE {bad}: sources[0]: 'url' is a required property"
    )

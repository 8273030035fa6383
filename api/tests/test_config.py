from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from inventory.config import (
    WEBHOOK_SEVERITIES,
    ConfigError,
    RecorderSettings,
    ServerSettings,
    Settings,
    SingleSource,
    declared,
    load,
    load_recorder_settings,
    load_settings,
    load_single_source,
    setting,
)
from inventory.wiring import configure

API_DIR = Path(__file__).resolve().parents[1]


def test_defaults_are_safe() -> None:
    s = load_settings({})
    assert load_single_source({}).backend == "docker" and s.engine_timeout == 1.5 and s.cache_ttl == 2.0
    assert s.api_token_file == "" and s.trusted_proxy_hops == 1
    assert s.live_stale_grace == 15.0 and load_settings({"LIVE_STALE_GRACE": "0"}).live_stale_grace == 0.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INVENTORY_BACKEND": "lxc"}, "INVENTORY_BACKEND='lxc' is not one of docker, kubernetes"),
        ({"ENGINE_TIMEOUT": "soon"}, "ENGINE_TIMEOUT='soon' is not a number"),
        ({"ENGINE_TIMEOUT": "0"}, "ENGINE_TIMEOUT='0' must be >= 0.1"),
        ({"DOCKER_HOST": "/var/run/docker.sock"}, "must start with unix://"),
        ({"K8S_IN_CLUSTER": "maybe"}, "is not a boolean"),
        ({"PAGE_LIMIT_DEFAULT": "50", "PAGE_LIMIT_MAX": "10"}, "exceeds PAGE_LIMIT_MAX"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='LOUD'"),
        ({"LIVE_STALE_GRACE": "a while"}, "LIVE_STALE_GRACE='a while' is not a number"),
        ({"LIVE_STALE_GRACE": "-1"}, "LIVE_STALE_GRACE='-1' must be >= 0.0"),
    ],
)
def test_invalid_values_give_one_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        configure(env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_namespaces_are_a_comma_list() -> None:
    assert load_single_source({"K8S_NAMESPACES": " a, b ,,c "}).k8s_namespaces == ("a", "b", "c")


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"INVENTORY_BACKEND": "bogus"}, "INVENTORY_BACKEND='bogus' is not one of docker, kubernetes"),
        ({"GUNICORN_THREADS": "many"}, "GUNICORN_THREADS='many' is not an integer"),  # ServerSettings
    ],
)
def test_real_gunicorn_refuses_bad_config_with_one_line(env: dict[str, str], line: str) -> None:
    env = {**os.environ, **env, "PYTHONPATH": str(API_DIR)}
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
    assert result.stderr.strip() == f"inventory: invalid configuration: {line}"


def test_the_configuration_doc_is_generated_from_the_declarations() -> None:
    from inventory.config import docs

    text = docs.DOC.read_text(encoding="utf-8")
    assert docs.render(text) == text, "docs/CONFIGURATION.md is stale: make config-docs"
    for cls in (Settings, SingleSource, RecorderSettings, ServerSettings):
        for var, _, _ in declared(cls):
            assert f"| `{var.env}` |" in text


def test_every_variable_is_declared_once() -> None:
    groups = (Settings, SingleSource, RecorderSettings, ServerSettings)
    names = [var.env for cls in groups for var, _, _ in declared(cls)]
    shared = {"DATABASE_URL"}  # one declaration (database_setting), read by the API and written by the recorder
    assert sorted(n for n in set(names) if names.count(n) > 1) == sorted(shared)


def test_webhook_severities_are_the_posture_severities_and_info() -> None:
    from inventory.posture import SEVERITIES

    assert WEBHOOK_SEVERITIES == (*SEVERITIES, "INFO")


def test_the_loader_reads_each_type_and_refuses_an_undeclarable_one() -> None:
    @dataclass(frozen=True)
    class Sample:
        port: int = setting("PORT", 80, "port", minimum=1)
        ratio: float = setting("RATIO", 0.5, "ratio")
        on: bool = setting("ON", False, "on")
        names: tuple[str, ...] = setting("NAMES", (), "names")
        mode: str = setting("MODE", "a", "mode", choices=("a", "b"), case="lower")

    got = load(Sample, {"PORT": "81", "RATIO": "", "ON": "yes", "NAMES": "x, y", "MODE": " B "})
    assert got == Sample(port=81, ratio=0.5, on=True, names=("x", "y"), mode="b")
    with pytest.raises(ConfigError, match=r"^PORT='0' must be >= 1$"):
        load(Sample, {"PORT": "0"})
    with pytest.raises(ConfigError, match=r"^MODE='c' is not one of a, b$"):
        load(Sample, {"MODE": "c"})

    @dataclass(frozen=True)
    class Odd:
        limits: dict[str, int] = setting("LIMITS", None, "limits")  # noqa: RUF009 - the type it must refuse

    with pytest.raises(TypeError, match="unsupported type"):
        load(Odd, {})


def test_config_reads_no_catalog_and_no_waiver_file() -> None:
    """The settings are values: a WAIVER_FILE that does not exist is the wiring's error, not the loader's."""
    assert load_settings({"WAIVER_FILE": "/nonexistent/waivers.yaml"}).waiver_file == "/nonexistent/waivers.yaml"
    with pytest.raises(ConfigError, match="cannot read"):
        configure({"WAIVER_FILE": "/nonexistent/waivers.yaml"})


def test_validating_the_configuration_creates_no_metrics() -> None:
    """gunicorn's master validates before forking: the metrics (multiprocess files) belong to the workers."""
    code = (
        "import sys; from inventory.wiring import configure; configure({}); "
        "print(sorted(m for m in sys.modules if m in ('inventory.metrics', 'inventory.service', 'prometheus_client')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=API_DIR, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_empty_values_mean_what_they_always_meant() -> None:
    """compose.yaml passes unset variables as empty strings: an empty WEBHOOK_URL is no webhook, an empty number or
    UI_COOKIE_SECURE the default, an empty INVENTORY_BACKEND or LOG_LEVEL an error."""
    assert load_recorder_settings({"WEBHOOK_URL": "", "WEBHOOK_SECRET_FILE": ""}).webhook_url == ""
    s = load_settings({"UI_COOKIE_SECURE": "", "ENGINE_TIMEOUT": "", "API_TOKEN_FILE": "", "DATABASE_URL": ""})
    assert (s.ui_cookie_secure, s.engine_timeout, s.api_token_file) == ("auto", 1.5, "")
    assert s.database_url == "sqlite:////var/lib/inventory/history.db"
    with pytest.raises(ConfigError, match="INVENTORY_BACKEND=''"):
        configure({"INVENTORY_BACKEND": ""})
    with pytest.raises(ConfigError, match="LOG_LEVEL=''"):
        load_settings({"LOG_LEVEL": ""})

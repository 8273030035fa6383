from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from inventory.config import ConfigError, load_settings

API_DIR = Path(__file__).resolve().parents[1]


def test_defaults_are_safe() -> None:
    s = load_settings({})
    assert s.backend == "docker" and s.engine_timeout == 1.5 and s.cache_ttl == 2.0
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
        load_settings(env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_namespaces_are_a_comma_list() -> None:
    assert load_settings({"K8S_NAMESPACES": " a, b ,,c "}).k8s_namespaces == ("a", "b", "c")


def test_real_gunicorn_refuses_bad_config_with_one_line() -> None:
    env = {**os.environ, "INVENTORY_BACKEND": "bogus", "PYTHONPATH": str(API_DIR)}
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
    assert (
        result.stderr.strip()
        == "inventory: invalid configuration: INVENTORY_BACKEND='bogus' is not one of docker, kubernetes"
    )

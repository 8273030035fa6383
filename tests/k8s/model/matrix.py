"""Every combination of the feature toggles a user can set, x minikube/dev/prod, rendered by the real helm as
deploy.sh runs it (the env's values file, prod with the pushed digests, the cluster's API server addresses), in
parallel, once per session.

A combination the chart must refuse (a clear `helm template` error) is listed in REFUSED with the message."""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import yaml

from ..conftest import ENVS, FIXTURES, template_cmd
from .connectivity import API_SERVER

FLEET = FIXTURES / "fleet-values.yaml"
# toggle -> choice -> helm arguments (--set values, or ("-f", file))
TOGGLES: dict[str, dict[str, tuple[str, ...]]] = {
    "history": {
        "off": ("history.enabled=false",),
        "sqlite": ("history.enabled=true", "history.database=sqlite"),
        "postgresql": (
            "history.enabled=true",
            "history.database=postgresql",
            "history.postgresql.existingSecret=inventory-history-db",
            "history.postgresql.egress[0].cidr=10.0.5.10/32",
            "history.postgresql.egress[0].port=5432",
        ),
    },
    "fleet": {"off": (), "on": ("-f", str(FLEET))},
    "vault": {"off": ("auth.mode=secret",), "on": ("auth.mode=vault",)},
    "keda": {"off": ("keda.enabled=false",), "on": ("keda.enabled=true",)},
    "ingress": {"off": ("ingress.enabled=false",), "on": ("ingress.enabled=true",)},
    "monitoring": {
        "off": ("monitoring.serviceMonitor.enabled=false", "monitoring.podMonitor.enabled=false"),
        "servicemonitor": ("monitoring.serviceMonitor.enabled=true", "monitoring.podMonitor.enabled=false"),
        "podmonitor": ("monitoring.serviceMonitor.enabled=false", "monitoring.podMonitor.enabled=true"),
    },
    "tracing": {"off": (), "on": ("tracing.otlpEndpoint=http://otel-collector.tracing.svc:4318",)},
}
# (env, toggle, choice) -> the message the render must fail with
REFUSED = {
    ("prod", "history", "sqlite"): "history.database=sqlite",
}


Combo = tuple[tuple[str, str], ...]


def label(env: str, combo: Combo) -> str:
    return env + ":" + ",".join(f"{k}={v}" for k, v in combo)


# Every combination of these (3 x 2 x 2 x 3 x 2 = 72 per environment) ...
FULL_PRODUCT = ("history", "fleet", "vault", "monitoring", "tracing")
# ... and these rotate through their combinations across it, so each of their choices meets every choice of
# every other toggle (KEDA and ingress add objects the model checks on their own: the ScaledObject/HPA maximum,
# the Ingress backend; the full 7-way product took 8.5 minutes on the 2-core CI machine).
ROTATED = ("keda", "ingress")


def combinations() -> list[tuple[str, Combo]]:
    rotated = list(itertools.product(*(TOGGLES[n] for n in ROTATED)))
    out = []
    for env in ENVS:
        for i, choice in enumerate(itertools.product(*(TOGGLES[n] for n in FULL_PRODUCT))):
            chosen = dict(zip(FULL_PRODUCT, choice, strict=True))
            chosen |= dict(zip(ROTATED, rotated[(i + i // len(rotated)) % len(rotated)], strict=True))
            out.append((env, tuple((name, chosen[name]) for name in TOGGLES)))
    return out


def helm_args(env: str, combo: Combo) -> list[str]:
    sets: list[str] = ["namespace.create=true", *API_SERVER[env][2]]
    files: list[str] = []
    for toggle, choice in combo:
        args = TOGGLES[toggle][choice]
        if args[:1] == ("-f",):
            files += args
        else:
            sets += args
    return [*template_cmd(env, *sets), *files]


def refusal(env: str, combo: Combo) -> str | None:
    return next((msg for (e, t, c), msg in REFUSED.items() if e == env and (t, c) in combo), None)


Rendered = tuple[list[dict[str, Any]] | None, str]  # (docs, stderr when the render failed)


def _render(cmd: list[str]) -> Rendered:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HELM_DEBUG": ""})
    if proc.returncode != 0:
        return None, proc.stderr
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(proc.stdout, Loader=loader) if d], ""


@functools.cache
def render_all() -> dict[tuple[str, Combo], Rendered]:
    combos = combinations()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(_render, [helm_args(env, combo) for env, combo in combos]))
    return dict(zip(combos, results, strict=True))

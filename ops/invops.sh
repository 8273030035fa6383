#!/usr/bin/env bash
# Wrapper: run the operations CLI with the repo's tool venv (falls back to python3 on PATH).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${INVOPS_PYTHON:-$here/../.venv/bin/python}"
[ -x "$py" ] || py=python3
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m invops "$@"

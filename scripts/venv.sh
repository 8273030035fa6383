#!/usr/bin/env bash
# Build a Python venv that holds exactly what its hash locks name, whatever the index offers today.
# usage: scripts/venv.sh VENV LOCK [LOCK ...]
#
#   1. `python3 -m venv` (the OS's own pip is only the starting point);
#   2. that pip fetches and installs the pinned installer (tools/requirements-bootstrap.txt: pip, setuptools, uv)
#      by hash, without resolving anything (--no-deps);
#   3. the pinned pip fetches every file of the locks into the wheelhouse (.cache/wheels) by hash, then installs
#      them from there with --no-index --no-deps: nothing is resolved, so a release published after the lock can
#      never be chosen (a lock that misses a pin fails at step 4, not weeks later);
#   4. `pip check` and tools/lockcheck.py: installed == locked, and every extra a package requires is pinned.
# The venv is rebuilt from nothing each time (make runs this only when a lock changed), so a pin dropped from a
# lock is also dropped from the venv. Ambient pip configuration (pip.conf, PIP_* variables: extra indexes,
# find-links, constraints) is ignored; INDEX_URL names the index (default PyPI), PIP_CERT a CA bundle.
# The venv remembers its checkout: a second checkout may not rebuild it (make venv refuses, see below).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ "$#" -ge 2 ] || { echo "usage: scripts/venv.sh VENV LOCK [LOCK ...]" >&2; exit 2; }
venv="$1"; shift
locks=("$@")
python="${PYTHON:-python3}"
wheels="${WHEELHOUSE:-$root/.cache/wheels}"
bootstrap="$root/tools/requirements-bootstrap.txt"

owner="$venv/.checkout"
if [ -e "$owner" ] && [ "$(cat "$owner")" != "$root" ]; then
  echo "venv: $venv belongs to the checkout $(cat "$owner"), not $root: use this checkout's own venv (VENV=$root/.venv)" >&2
  exit 2
fi

pip_args=(--isolated --disable-pip-version-check --no-input --quiet)
[ -n "${PIP_CERT:-}" ] && [ -f "${PIP_CERT}" ] && pip_args+=(--cert "$PIP_CERT")
fetch=(download --no-deps --require-hashes --dest "$wheels")
[ -n "${INDEX_URL:-}" ] && fetch+=(--index-url "$INDEX_URL")
install=(install --no-deps --require-hashes --no-index --find-links "$wheels")

echo "==> venv $venv from ${locks[*]} (installer: $(sed -n 's/^\(pip==[^ ]*\).*/\1/p' "$bootstrap"))"
rm -rf "$venv"
mkdir -p "$wheels"
"$python" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip "${pip_args[@]}" "${fetch[@]}" -r "$bootstrap"
"$py" -m pip "${pip_args[@]}" "${install[@]}" -r "$bootstrap"
for lock in "${locks[@]}"; do
  "$py" -m pip "${pip_args[@]}" "${fetch[@]}" --only-binary :all: -r "$lock"
  "$py" -m pip "${pip_args[@]}" "${install[@]}" --only-binary :all: -r "$lock"
done
"$py" -m pip "${pip_args[@]}" check >/dev/null || { "$py" -m pip --isolated check >&2; exit 1; }
"$py" "$root/tools/lockcheck.py" "$bootstrap" "${locks[@]}"
echo "$root" > "$owner"

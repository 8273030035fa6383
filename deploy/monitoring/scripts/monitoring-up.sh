#!/usr/bin/env bash
# Install / upgrade THE kube-prometheus-stack release (release kps, namespace monitoring) with
# our values, the Alertmanager configuration and the Grafana dashboards. deploy.sh's platform step runs this
# same script, so there is only ever one release (one node-exporter DaemonSet on hostPort 9100).
# Chart version pinned in deploy/versions.env.
#   monitoring-up.sh [--dry-run] [--namespace NS] [--context NAME] [--minikube]
#   --minikube  add values-kube-prometheus-stack-minikube.yaml (small requests) and create the two Secrets
#               below when missing: grafana-admin with a generated password, receivers from local placeholders
# Needs beforehand (docs/MONITORING.md): Secrets grafana-admin and alertmanager-inventory-receivers.
# The alert rules come with the container-inventory chart (PrometheusRule), not from here.
set -euo pipefail
# shellcheck disable=SC1091  # the one shell library, deploy/scripts/lib.sh
. "$(dirname "$0")/../../scripts/lib.sh"

NAMESPACE="$MONITORING_NAMESPACE"
CONTEXT=""
MINIKUBE=0
# shellcheck disable=SC2034  # DRY_RUN is read by lib.sh's run helpers
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --namespace) NAMESPACE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --namespace=*) NAMESPACE="${1#*=}"; shift ;;
    --context) CONTEXT="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --minikube) MINIKUBE=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
valid_namespace "$NAMESPACE"
need helm kubectl
use_context "$CONTEXT"
KC="$(printf '%q ' "${KUBECTL[@]}")"
VALUES=(--values "$MONITORING_DIR/values-kube-prometheus-stack.yaml")
if [ "$MINIKUBE" = 1 ]; then
  VALUES+=(--values "$MONITORING_DIR/values-kube-prometheus-stack-minikube.yaml")
fi

echo "==> kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION as release $KPS_RELEASE in namespace $NAMESPACE"
helm_repo prometheus-community
run "${HELM[@]}" repo update prometheus-community
ensure_namespace "$NAMESPACE"
if [ "$MINIKUBE" = 1 ]; then
  if ! secret_exists "$NAMESPACE" grafana-admin; then
    # A generated password, never a default one; it goes through a 0600 file, never argv or the log.
    secret_dir="$(mktemp -d)"
    trap 'rm -rf "$secret_dir"' EXIT
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$secret_dir/admin-password")
    run "${KUBECTL[@]}" -n "$NAMESPACE" create secret generic grafana-admin \
      --from-literal=admin-user=admin --from-file=admin-password="$secret_dir/admin-password"
    echo "    Grafana password: ${KC}-n $NAMESPACE get secret grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d"
  fi
  if ! secret_exists "$NAMESPACE" alertmanager-inventory-receivers; then
    local_secrets="$MONITORING_DIR/alertmanager/local-secrets"
    run "${KUBECTL[@]}" -n "$NAMESPACE" create secret generic alertmanager-inventory-receivers \
      --from-file=slack-oncall-url="$local_secrets/slack-oncall-url" \
      --from-file=slack-team-url="$local_secrets/slack-team-url" \
      --from-file=pagerduty-routing-key="$local_secrets/pagerduty-routing-key"
  fi
else
  require_secret "$NAMESPACE" grafana-admin admin-user admin-password
  require_secret "$NAMESPACE" alertmanager-inventory-receivers slack-oncall-url slack-team-url pagerduty-routing-key
fi
AM="$(printf '%q' "$MONITORING_DIR/alertmanager")"
run_sh "${KC}-n $NAMESPACE create secret generic alertmanager-inventory-config \
--from-file=alertmanager.yaml=$AM/alertmanager.yml --from-file=inventory.tmpl=$AM/inventory.tmpl \
--dry-run=client -o yaml | ${KC}-n $NAMESPACE apply -f -"
run "${HELM[@]}" upgrade --install "$KPS_RELEASE" prometheus-community/kube-prometheus-stack \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace "$NAMESPACE" \
  "${VALUES[@]}" --atomic --wait --timeout 15m
run "${KUBECTL[@]}" -n "$NAMESPACE" apply -f "$MONITORING_DIR/dashboards/configmaps.yaml"
echo "==> done: ${KC}-n $NAMESPACE port-forward svc/$KPS_RELEASE-grafana 3000:80, then http://127.0.0.1:3000"

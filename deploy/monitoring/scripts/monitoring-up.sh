#!/usr/bin/env bash
# Install / upgrade kube-prometheus-stack with our values, Alertmanager configuration and
# Grafana dashboards. Chart version pinned in deploy/monitoring/versions.env.
#   deploy/monitoring/scripts/monitoring-up.sh --dry-run     print every command, run none
# Needs beforehand (docs/MONITORING.md): Secrets grafana-admin and alertmanager-inventory-receivers.
# The alert rules come with the container-inventory chart (PrometheusRule), not from here.
set -euo pipefail
# shellcheck disable=SC1091  # sibling helper
. "$(dirname "$0")/lib.sh"
parse_args monitoring "$@"

echo "==> kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION into namespace $NAMESPACE"
run helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
run helm repo update prometheus-community
ensure_namespace
require_secret grafana-admin admin-user admin-password
require_secret alertmanager-inventory-receivers slack-oncall-url slack-team-url pagerduty-routing-key
run_sh "kubectl -n $NAMESPACE create secret generic alertmanager-inventory-config \
--from-file=alertmanager.yaml=$MONITORING_DIR/alertmanager/alertmanager.yml \
--from-file=inventory.tmpl=$MONITORING_DIR/alertmanager/inventory.tmpl \
--dry-run=client -o yaml | kubectl apply -f -"
run helm upgrade --install kps prometheus-community/kube-prometheus-stack \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace "$NAMESPACE" \
  --values "$MONITORING_DIR/values-kube-prometheus-stack.yaml" --wait --timeout 10m
run kubectl -n "$NAMESPACE" apply -f "$MONITORING_DIR/dashboards/configmaps.yaml"
echo "==> done: kubectl -n $NAMESPACE port-forward svc/kps-grafana 3000:80, then http://127.0.0.1:3000"

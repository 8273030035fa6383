#!/usr/bin/env bash
# Install / upgrade OpenSearch (log store) and Fluent Bit (DaemonSet shipper) with our values,
# then load the inventory-logs index template and ISM retention policy.
# Chart versions pinned in deploy/monitoring/versions.env.
#   deploy/monitoring/scripts/logging-up.sh --dry-run     print every command, run none
# Needs beforehand (docs/LOGGING.md): Secrets opensearch-admin, fluent-bit-opensearch, opensearch-ca.
set -euo pipefail
# shellcheck disable=SC1091  # sibling helper
. "$(dirname "$0")/lib.sh"
parse_args logging "$@"

LOGGING="$MONITORING_DIR/logging"
OS_POD=opensearch-cluster-master-0
# The admin password stays inside the pod (its own env); it never reaches this shell or argv.
os_put() {
  run_sh "kubectl -n $NAMESPACE exec -i $OS_POD -- sh -c 'curl -sf --cacert config/root-ca.pem \
-u \"admin:\$OPENSEARCH_INITIAL_ADMIN_PASSWORD\" -H \"Content-Type: application/json\" \
-X PUT https://localhost:9200/$1 --data-binary @-' < $2"
}

echo "==> OpenSearch $OPENSEARCH_CHART_VERSION and Fluent Bit $FLUENT_BIT_CHART_VERSION into namespace $NAMESPACE"
run helm repo add opensearch https://opensearch-project.github.io/helm-charts --force-update
run helm repo add fluent https://fluent.github.io/helm-charts --force-update
run helm repo update opensearch fluent
ensure_namespace
require_secret opensearch-admin password
require_secret fluent-bit-opensearch username password
require_secret opensearch-ca ca.crt
run helm upgrade --install opensearch opensearch/opensearch \
  --version "$OPENSEARCH_CHART_VERSION" --namespace "$NAMESPACE" \
  --values "$LOGGING/values-opensearch.yaml" --wait --timeout 15m
os_put _plugins/_ism/policies/inventory-logs-retention "$LOGGING/opensearch-ism-policy.json"
os_put _index_template/inventory-logs "$LOGGING/opensearch-index-template.json"
run helm upgrade --install fluent-bit fluent/fluent-bit \
  --version "$FLUENT_BIT_CHART_VERSION" --namespace "$NAMESPACE" \
  --values "$LOGGING/values-fluent-bit.yaml" --wait --timeout 10m
echo "==> done: logs land in the inventory-logs-YYYY.MM.DD indices (30 days retention)"

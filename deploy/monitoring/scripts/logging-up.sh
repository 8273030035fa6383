#!/usr/bin/env bash
# Install / upgrade OpenSearch (log store) and Fluent Bit (DaemonSet shipper) with our values,
# then load the inventory-logs index template and ISM retention policy.
# Chart versions pinned in deploy/versions.env.
#   deploy/monitoring/scripts/logging-up.sh --dry-run     print every command, run none
# Needs beforehand (docs/LOGGING.md): Secrets opensearch-admin, fluent-bit-opensearch, opensearch-ca.
set -euo pipefail
# shellcheck disable=SC1091  # the one shell library, deploy/scripts/lib.sh
. "$(dirname "$0")/../../scripts/lib.sh"
parse_stack_args logging "$@"

LOGGING="$MONITORING_DIR/logging"
OS_POD=opensearch-cluster-master-0
# The admin password stays inside the pod (its own env); it never reaches this shell or argv.
os_put() {
  run_sh "$(printf '%q ' "${KUBECTL[@]}")-n $NAMESPACE exec -i $OS_POD -- sh -c 'curl -sf --cacert config/root-ca.pem \
-u \"admin:\$OPENSEARCH_INITIAL_ADMIN_PASSWORD\" -H \"Content-Type: application/json\" \
-X PUT https://localhost:9200/$1 --data-binary @-' < $2"
}

echo "==> OpenSearch $OPENSEARCH_CHART_VERSION and Fluent Bit $FLUENT_BIT_CHART_VERSION into namespace $NAMESPACE"
helm_repo opensearch
helm_repo fluent
run "${HELM[@]}" repo update opensearch fluent
ensure_namespace "$NAMESPACE"
require_secret "$NAMESPACE" opensearch-admin password
require_secret "$NAMESPACE" fluent-bit-opensearch username password
require_secret "$NAMESPACE" opensearch-ca ca.crt
run "${HELM[@]}" upgrade --install opensearch opensearch/opensearch \
  --version "$OPENSEARCH_CHART_VERSION" --namespace "$NAMESPACE" \
  --values "$LOGGING/values-opensearch.yaml" --wait --timeout 15m
os_put _plugins/_ism/policies/inventory-logs-retention "$LOGGING/opensearch-ism-policy.json"
os_put _index_template/inventory-logs "$LOGGING/opensearch-index-template.json"
run "${HELM[@]}" upgrade --install fluent-bit fluent/fluent-bit \
  --version "$FLUENT_BIT_CHART_VERSION" --namespace "$NAMESPACE" \
  --values "$LOGGING/values-fluent-bit.yaml" --wait --timeout 10m
echo "==> done: logs land in the inventory-logs-YYYY.MM.DD indices (30 days retention)"

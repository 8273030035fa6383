#!/usr/bin/env bash
# Install / upgrade Jaeger (collector + query, spans in OpenSearch) and the OpenTelemetry
# Collector (OTLP in, Jaeger out) with our values. Chart versions pinned in deploy/versions.env.
#   deploy/monitoring/scripts/tracing-up.sh --dry-run     print every command, run none
# Needs beforehand (docs/TRACING.md): Secrets jaeger-opensearch and opensearch-ca in the namespace;
# the logging stack (OpenSearch) installed by logging-up.sh.
set -euo pipefail
# shellcheck disable=SC1091  # the one shell library, deploy/scripts/lib.sh
. "$(dirname "$0")/../../scripts/lib.sh"
parse_stack_args tracing "$@"

TRACING="$MONITORING_DIR/tracing"
echo "==> Jaeger $JAEGER_CHART_VERSION and OpenTelemetry Collector $OTEL_COLLECTOR_CHART_VERSION into namespace $NAMESPACE"
helm_repo jaegertracing
helm_repo open-telemetry
run "${HELM[@]}" repo update jaegertracing open-telemetry
ensure_namespace "$NAMESPACE"
require_secret "$NAMESPACE" jaeger-opensearch password
require_secret "$NAMESPACE" opensearch-ca ca.crt
run "${HELM[@]}" upgrade --install jaeger jaegertracing/jaeger \
  --version "$JAEGER_CHART_VERSION" --namespace "$NAMESPACE" \
  --values "$TRACING/values-jaeger.yaml" --wait --timeout 10m
run "${HELM[@]}" upgrade --install otel-collector open-telemetry/opentelemetry-collector \
  --version "$OTEL_COLLECTOR_CHART_VERSION" --namespace "$NAMESPACE" \
  --values "$TRACING/values-opentelemetry-collector.yaml" --wait --timeout 10m
echo "==> done: point flask-api at OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector.$NAMESPACE.svc:4318"

#!/usr/bin/env bash
# Deploy container-inventory to an existing cluster (the current kube context unless --context):
# platform charts (KEDA, kube-prometheus-stack, Kyverno; pinned), admission policies, the chart with
# `helm upgrade --install --atomic --wait`, then `helm test`.
#   deploy.sh --env dev|prod|minikube [--dry-run] [--confirm-prod] [--context NAME] [--namespace NS]
#             [--release NAME] [--image-tag TAG] [--skip-platform] [-- extra helm args]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null  # lib.sh next to this script (pinned versions, run/die/need)
source "$HERE/lib.sh"

ENV_NAME=""
CONFIRM_PROD=0
CONTEXT=""
NAMESPACE="container-inventory"
RELEASE="inventory"
SKIP_PLATFORM=0
IMAGE_TAG_ARG=""
HELM_EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) ENV_NAME="${2:-}"; shift 2 ;;
    --env=*) ENV_NAME="${1#*=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --confirm-prod) CONFIRM_PROD=1; shift ;;
    --context) CONTEXT="${2:-}"; shift 2 ;;
    --namespace) NAMESPACE="${2:-}"; shift 2 ;;
    --release) RELEASE="${2:-}"; shift 2 ;;
    --image-tag) IMAGE_TAG_ARG="${2:-}"; shift 2 ;;
    --skip-platform) SKIP_PLATFORM=1; shift ;;
    --) shift; HELM_EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

case "$ENV_NAME" in
  dev|prod|minikube) ;;
  "") die "--env is required (dev, prod or minikube)" ;;
  *) die "--env must be dev, prod or minikube, not '$ENV_NAME'" ;;
esac
if [ "$ENV_NAME" = prod ] && [ "$CONFIRM_PROD" != 1 ]; then
  die "refusing to deploy to prod without --confirm-prod (make deploy ENV=prod CONFIRM_PROD=yes)"
fi

CHART="$ROOT/deploy/helm/container-inventory"
VALUES="$CHART/values-$ENV_NAME.yaml"
[ -f "$VALUES" ] || die "values file not found: $VALUES"
need helm kubectl
KUBECTL=(kubectl)
HELM=(helm)
if [ -n "$CONTEXT" ]; then
  KUBECTL+=(--context "$CONTEXT")
  HELM+=(--kube-context "$CONTEXT")
fi

echo "==> deploy $RELEASE to namespace $NAMESPACE (env $ENV_NAME${CONTEXT:+, context $CONTEXT})$([ "$DRY_RUN" = 1 ] && echo ' [dry run]')"
run "${KUBECTL[@]}" version

if [ "$SKIP_PLATFORM" != 1 ]; then
  echo "==> platform: KEDA $KEDA_CHART_VERSION, kube-prometheus-stack $KUBE_PROMETHEUS_STACK_CHART_VERSION, Kyverno $KYVERNO_CHART_VERSION"
  run "${HELM[@]}" repo add kedacore https://kedacore.github.io/charts --force-update
  run "${HELM[@]}" repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
  run "${HELM[@]}" repo add kyverno https://kyverno.github.io/kyverno --force-update
  run "${HELM[@]}" repo update
  run "${HELM[@]}" upgrade --install keda kedacore/keda --version "$KEDA_CHART_VERSION" \
    --namespace keda --create-namespace --atomic --wait --timeout 10m
  run "${HELM[@]}" upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    --version "$KUBE_PROMETHEUS_STACK_CHART_VERSION" --namespace monitoring --create-namespace --atomic --wait --timeout 15m
  run "${HELM[@]}" upgrade --install kyverno kyverno/kyverno --version "$KYVERNO_CHART_VERSION" \
    --namespace kyverno --create-namespace --atomic --wait --timeout 10m
fi

echo "==> admission policies (native ValidatingAdmissionPolicy + Kyverno, same CEL rules)"
run "${KUBECTL[@]}" apply -f "$ROOT/deploy/policies/generated/validating-admission-policy.yaml"
run "${KUBECTL[@]}" apply -f "$ROOT/deploy/policies/generated/kyverno-clusterpolicy.yaml"

echo "==> API server endpoints for the flask-api egress NetworkPolicy"
SETS=()
if [ -n "$IMAGE_TAG_ARG" ]; then
  SETS+=(--set "imageTag=$IMAGE_TAG_ARG")
fi
if [ "$DRY_RUN" = 1 ]; then
  run "${KUBECTL[@]}" get endpoints kubernetes -n default -o 'jsonpath={.subsets[*].addresses[*].ip}'
else
  ips="$("${KUBECTL[@]}" get endpoints kubernetes -n default -o 'jsonpath={.subsets[*].addresses[*].ip}')"
  ports="$("${KUBECTL[@]}" get endpoints kubernetes -n default -o 'jsonpath={.subsets[*].ports[*].port}')"
  svc="$("${KUBECTL[@]}" get service kubernetes -n default -o 'jsonpath={.spec.clusterIP}')"
  cidrs="$svc/32"
  for ip in $ips; do cidrs="$cidrs,$ip/32"; done
  SETS+=(--set "api.apiServer.cidrs={$cidrs}" --set "api.apiServer.ports={443,${ports// /,}}")
fi

echo "==> namespace $NAMESPACE with Pod Security Admission + admission-policy labels (rendered from the chart)"
RENDER_DIR="$(mktemp -d)"
trap 'rm -rf "$RENDER_DIR"' EXIT
run_to "$RENDER_DIR/namespace.yaml" "${HELM[@]}" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" -f "$VALUES" \
  --set namespace.create=true --show-only templates/namespace.yaml
run "${KUBECTL[@]}" apply -f "$RENDER_DIR/namespace.yaml"

echo "==> helm upgrade --install $RELEASE"
run "${HELM[@]}" upgrade --install "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
  -f "$VALUES" --set namespace.create=false "${SETS[@]}" "${HELM_EXTRA[@]}" --atomic --wait --timeout 10m
run "${HELM[@]}" test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m
run "${HELM[@]}" status "$RELEASE" --namespace "$NAMESPACE"
echo "==> reach the API: kubectl -n $NAMESPACE port-forward svc/$RELEASE-container-inventory-nginx-proxy 8080:80"
echo "    then: curl -s http://127.0.0.1:8080/api/containers"

#!/usr/bin/env bash
# Start minikube (Calico, so NetworkPolicies are enforced), load the locally built images, then run
# deploy.sh --env minikube (platform charts, policies, chart, helm test).
#   minikube-up.sh [--dry-run] [--profile NAME]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null  # lib.sh next to this script (pinned versions, run/die/need)
source "$HERE/lib.sh"

PROFILE="container-inventory"
K8S_VERSION="${K8S_VERSION:-v1.33.5}"
IMAGE_TAG="${IMAGE_TAG:-$(cat "$HERE/../../VERSION")}"
CHART="$HERE/../helm/container-inventory"
# The one registry (chart values.yaml imageRegistry) and the profile size (values-minikube.yaml minikube.*).
REGISTRY="$(sed -n 's/^imageRegistry: *//p' "$CHART/values.yaml")"
MINIKUBE_CPUS="$(sed -n 's/^  cpus: *//p' "$CHART/values-minikube.yaml")"
MINIKUBE_MEMORY="$(sed -n 's/^  memory: *//p' "$CHART/values-minikube.yaml")"
DOCKER="${DOCKER:-docker}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --profile) PROFILE="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
export DRY_RUN
need minikube "$DOCKER"

echo "==> minikube $PROFILE (Kubernetes $K8S_VERSION, Calico CNI)$([ "$DRY_RUN" = 1 ] && echo ' [dry run]')"
run minikube start --profile "$PROFILE" --kubernetes-version "$K8S_VERSION" --cni calico \
  --cpus "$MINIKUBE_CPUS" --memory "$MINIKUBE_MEMORY" --addons ingress --addons metrics-server

echo "==> load images (tag $IMAGE_TAG) as $REGISTRY/* (the chart's registry; imagePullPolicy Never on minikube)"
for image in flask-api nginx-proxy; do
  run "$DOCKER" tag "$image:$IMAGE_TAG" "$REGISTRY/$image:$IMAGE_TAG"
  run minikube --profile "$PROFILE" image load "$REGISTRY/$image:$IMAGE_TAG"
done

DEPLOY=("$HERE/deploy.sh" --env minikube --context "$PROFILE")
if [ "$DRY_RUN" = 1 ]; then
  DEPLOY+=(--dry-run)
fi
# deploy.sh prints (and in a dry run only prints) its own commands.
"${DEPLOY[@]}" -- --set "imageTag=$IMAGE_TAG"
echo "==> API: kubectl --context $PROFILE -n container-inventory port-forward svc/inventory-container-inventory-nginx-proxy 8080:80"

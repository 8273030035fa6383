#!/usr/bin/env bash
# Start minikube (Calico, so NetworkPolicies are enforced) sized for the control plane, the add-ons, the
# platform charts and the app (minikube.cpus / minikube.memory in the chart's values-minikube.yaml, the one
# place tests/k8s checks the requests against), then run deploy.sh --env minikube --platform: KEDA,
# kube-prometheus-stack, Kyverno, the admission policies, the locally built images loaded into minikube, the
# chart and helm test.
#   minikube-up.sh [--dry-run] [--profile NAME] [--image-tag TAG]   (TAG default: $IMAGE_TAG, else VERSION)
set -euo pipefail
# shellcheck disable=SC1091  # the one shell library, next to this script
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE="container-inventory"
K8S_VERSION="${K8S_VERSION:-v1.33.5}"
IMAGE_TAG="${IMAGE_TAG:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --profile) PROFILE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --image-tag) IMAGE_TAG="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --image-tag=*) IMAGE_TAG="${1#*=}"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$PROFILE" ] || die "--profile needs a name"
MINIKUBE_CPUS="$(sed -n 's/^  cpus: *//p' "$CHART/values-minikube.yaml")"
MINIKUBE_MEMORY="$(sed -n 's/^  memory: *//p' "$CHART/values-minikube.yaml")"
if [ -z "$MINIKUBE_CPUS" ] || [ -z "$MINIKUBE_MEMORY" ]; then
  die "values-minikube.yaml has no minikube.cpus / minikube.memory (the profile size)"
fi
need minikube "${DOCKER:-docker}"

echo "==> minikube $PROFILE (Kubernetes $K8S_VERSION, Calico CNI, $MINIKUBE_CPUS CPUs, $MINIKUBE_MEMORY)$([ "$DRY_RUN" = 1 ] && echo ' [dry run]')"
run minikube start --profile "$PROFILE" --kubernetes-version "$K8S_VERSION" --cni calico \
  --cpus "$MINIKUBE_CPUS" --memory "$MINIKUBE_MEMORY" --addons ingress --addons metrics-server

DEPLOY=(--env minikube --platform --minikube-profile "$PROFILE" --context "$PROFILE" --image-tag="$IMAGE_TAG")
if [ "$DRY_RUN" = 1 ]; then
  DEPLOY+=(--dry-run)
fi
# deploy.sh prints (and in a dry run only prints) its own commands; it loads the images into the profile.
bash "$DEPLOY_DIR/scripts/deploy.sh" "${DEPLOY[@]}"

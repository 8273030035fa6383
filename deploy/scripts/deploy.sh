#!/usr/bin/env bash
# Deploy container-inventory to a cluster: the current kube context, or --context (minikube: the profile's).
#   deploy.sh --env dev|prod|minikube [--dry-run] [--confirm-prod] [--context NAME] [--namespace NS]
#             [--release NAME] [--image-tag TAG] [--images-file FILE] [--platform] [--skip-policies]
#             [--minikube-profile NAME] [--values FILE]... [--api-server-cidrs CIDRS|values] [--cilium]
#             [--skip-namespaces] [-- extra helm args]
#   --image-tag TAG     tag of flask-api and nginx-proxy; empty or absent: the VERSION file
#   --images-file FILE  reports/images.json (make push / make images-json): tag and digest per image, handed to
#                       the chart (pushedImages). prod deploys only by digest, so prod requires it; minikube runs
#                       the images built here and ignores it
#   --platform          also install/upgrade the cluster-wide operators KEDA, kube-prometheus-stack (through
#                       deploy/monitoring/scripts/monitoring-up.sh, the one release) and Kyverno. Off by default:
#                       an app deploy on a shared cluster never upgrades operators (cluster-admin) unless asked
#   --skip-policies     do not apply the cluster-scoped admission policies (they need cluster-admin rights)
#   --skip-namespaces   do not apply the Namespace objects (cluster-scoped); they must exist, labelled by an admin
#   --values FILE       extra values file after values-ENV.yaml (repeatable), in the render and in the upgrade
#   --api-server-cidrs  the API server's CIDRs for the egress NetworkPolicy (comma separated; managed clusters
#                       rotate the endpoint IPs), or `values` (keep the values files'); without it, and without
#                       --cilium, they are read from `kubectl get endpoints kubernetes -n default`
#   --cilium            the CNI is Cilium: the API server is allowed by entity (CiliumNetworkPolicy kube-apiserver)
# Steps: render the chart here (nothing reaches the cluster if it does not render), preflight (every right the
# run needs, pull secrets, Vault; nothing is applied if it fails), [platform], admission policies, namespaces, the API token Secret must exist (auth.mode secret), [minikube: load the local images],
# helm upgrade --install --atomic --wait, helm test. --dry-run prints every command and runs none.
set -euo pipefail
# shellcheck disable=SC1091  # the one shell library, next to this script
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENV_NAME=""
CONFIRM_PROD=0
CONTEXT=""
NAMESPACE="container-inventory"
RELEASE="inventory"
PLATFORM=0
SKIP_POLICIES=0
IMAGE_TAG_ARG=""
IMAGES_FILE=""
PROFILE="container-inventory"
HELM_EXTRA=()
EXTRA_VALUES=()
API_SERVER_CIDRS=""
CILIUM=0
SKIP_NAMESPACES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --env) ENV_NAME="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --env=*) ENV_NAME="${1#*=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --confirm-prod) CONFIRM_PROD=1; shift ;;
    --context) CONTEXT="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --namespace) NAMESPACE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --release) RELEASE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --image-tag) IMAGE_TAG_ARG="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --image-tag=*) IMAGE_TAG_ARG="${1#*=}"; shift ;;
    --images-file) IMAGES_FILE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --images-file=*) IMAGES_FILE="${1#*=}"; shift ;;
    --platform) PLATFORM=1; shift ;;
    --skip-platform) PLATFORM=0; shift ;;  # the default; kept so older callers keep working
    --skip-policies) SKIP_POLICIES=1; shift ;;
    --minikube-profile) PROFILE="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --) shift; HELM_EXTRA=("$@"); break ;;
    --skip-namespaces) SKIP_NAMESPACES=1; shift ;;
    --values) EXTRA_VALUES+=("$(value_of "$1" $# "${2-}")"); shift 2 ;;
    --values=*) EXTRA_VALUES+=("${1#*=}"); shift ;;
    --api-server-cidrs) API_SERVER_CIDRS="$(value_of "$1" $# "${2-}")"; shift 2 ;;
    --api-server-cidrs=*) API_SERVER_CIDRS="${1#*=}"; shift ;;
    --cilium) CILIUM=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
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
valid_namespace "$NAMESPACE"
VERSION="$(cat "$ROOT/VERSION")"
if [ -z "$IMAGE_TAG_ARG" ]; then
  IMAGE_TAG_ARG="$VERSION"
  note "no image tag given (empty IMAGE_TAG): deploying tag $VERSION from the VERSION file"
fi
[[ "$IMAGE_TAG_ARG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] \
  || die "invalid image tag '$IMAGE_TAG_ARG' (letters, digits, _ . -, at most 128, not starting with . or -)"
VALUES="$CHART/values-$ENV_NAME.yaml"
[ -f "$VALUES" ] || die "values file not found: $VALUES"
# Every values file, in order: the environment's, then --values (the pre-render, the namespaces and the upgrade
# all use exactly these).
VALUE_ARGS=(-f "$VALUES")
for file in "${EXTRA_VALUES[@]}"; do
  { [ -f "$file" ] && [ -r "$file" ]; } || die "values file not readable: $file"
  VALUE_ARGS+=(-f "$file")
done
RENDER_APIS=()
if [ -n "$API_SERVER_CIDRS" ] && [ "$API_SERVER_CIDRS" != values ]; then
  for cidr in ${API_SERVER_CIDRS//,/ }; do
    valid_cidr "$cidr" || die "--api-server-cidrs: '$cidr' is not a CIDR (e.g. 10.0.0.0/28,10.96.0.1/32), nor 'values'"
  done
fi

# Images: one registry (the chart's imageRegistry); --image-tag sets imageTag; --images-file hands the chart the
# tags and digests `make push` recorded (pushedImages), and the chart refuses a repository it does not pull from
# and, in prod (requireImageDigests), any image without a digest.
SETS=(--set "imageTag=$IMAGE_TAG_ARG")
if [ -n "$IMAGES_FILE" ] && [ "$ENV_NAME" = minikube ]; then
  note "minikube runs the images built here (loaded into the node, tag $IMAGE_TAG_ARG): --images-file not used"
  IMAGES_FILE=""
fi
if [ -n "$IMAGES_FILE" ]; then
  [ -r "$IMAGES_FILE" ] || die "images file not readable: $IMAGES_FILE"
  SETS+=(--set-file "pushedImages=$IMAGES_FILE")
elif [ "$ENV_NAME" = prod ]; then
  die "prod deploys only by digest: pass --images-file reports/images.json from make push (make deploy ENV=prod CONFIRM_PROD=yes IMAGES_FILE=reports/images.json)"
fi
if [ -n "$API_SERVER_CIDRS" ] && [ "$API_SERVER_CIDRS" != values ]; then
  SETS+=(--set "api.apiServer.cidrs={$API_SERVER_CIDRS}")
fi
if [ "$CILIUM" = 1 ]; then
  SETS+=(--set api.apiServer.cilium=true)
  RENDER_APIS=(--api-versions cilium.io/v2/CiliumNetworkPolicy)  # the preflight checks the cluster serves it
fi

need helm kubectl
if [ "$ENV_NAME" = minikube ]; then
  DOCKER="${DOCKER:-docker}"
  need minikube "$DOCKER"
  CONTEXT="${CONTEXT:-$PROFILE}"  # never the current context by accident: minikube names the context after the profile
fi
use_context "$CONTEXT"
CONTEXT_ARGS=()
if [ -n "$CONTEXT" ]; then
  CONTEXT_ARGS=(--context "$CONTEXT")
fi
DRY_ARGS=()
if [ "$DRY_RUN" = 1 ]; then
  DRY_ARGS=(--dry-run)
fi
RENDER_DIR="$(mktemp -d)"
trap 'rm -rf "$RENDER_DIR"' EXIT

echo "==> deploy $RELEASE to namespace $NAMESPACE (env $ENV_NAME, context ${CONTEXT:-current})$([ "$DRY_RUN" = 1 ] && echo ' [dry run]')"
echo "==> render the chart here first, with this deploy's values (nothing reaches the cluster if it does not render)"
run_to "$RENDER_DIR/chart.yaml" helm template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "${VALUE_ARGS[@]}" \
  "${SETS[@]}" "${RENDER_APIS[@]}" || die "the chart does not render with values-$ENV_NAME.yaml and these settings (helm's message above)"
run "${KUBECTL[@]}" version || die "cannot reach the cluster of context ${CONTEXT:-current} (kubectl version failed)"
# A down aggregated API (metrics-server starting) makes api-resources exit 1 after listing the rest.
run_to "$RENDER_DIR/api-resources.txt" "${KUBECTL[@]}" api-resources -o name \
  || note "kubectl api-resources reported errors (an aggregated API down?); using the resources it listed"
preflight

if [ "$PLATFORM" = 1 ]; then
  echo "==> platform (cluster-wide): KEDA $KEDA_CHART_VERSION, kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION, Kyverno $KYVERNO_CHART_VERSION"
  helm_repo kedacore
  helm_repo kyverno
  run "${HELM[@]}" repo update kedacore kyverno
  run "${HELM[@]}" upgrade --install keda kedacore/keda --version "$KEDA_CHART_VERSION" \
    --namespace keda --create-namespace --atomic --wait --timeout 10m
  MONITORING_ARGS=("${CONTEXT_ARGS[@]}" "${DRY_ARGS[@]}")
  if [ "$ENV_NAME" = minikube ]; then
    MONITORING_ARGS+=(--minikube)
  fi
  bash "$MONITORING_DIR/scripts/monitoring-up.sh" "${MONITORING_ARGS[@]}"
  run "${HELM[@]}" upgrade --install kyverno kyverno/kyverno --version "$KYVERNO_CHART_VERSION" \
    --namespace kyverno --create-namespace --atomic --wait --timeout 10m
else
  echo "==> platform: not touched (KEDA, kube-prometheus-stack, Kyverno are cluster-wide; --platform / PLATFORM=yes installs them)"
fi

echo "==> admission policies (native ValidatingAdmissionPolicy and Kyverno, same CEL rules)"
if [ "$SKIP_POLICIES" = 1 ]; then
  note "--skip-policies: admission policies not applied (a cluster admin applies deploy/policies/generated/)"
else
  applied=0
  if [ "$DRY_RUN" = 1 ] || grep -qx 'validatingadmissionpolicies.admissionregistration.k8s.io' "$RENDER_DIR/api-resources.txt"; then
    run "${KUBECTL[@]}" apply -f "$DEPLOY_DIR/policies/generated/validating-admission-policy.yaml"
    applied=1
  else
    note "the cluster has no ValidatingAdmissionPolicy API (Kubernetes < 1.30)"
  fi
  if [ "$DRY_RUN" = 1 ] || grep -qx 'clusterpolicies.kyverno.io' "$RENDER_DIR/api-resources.txt"; then
    run "${KUBECTL[@]}" apply -f "$DEPLOY_DIR/policies/generated/kyverno-clusterpolicy.yaml"
    applied=1
  else
    note "Kyverno is not installed: its ClusterPolicy is not applied (--platform installs Kyverno)"
  fi
  if [ "$applied" = 0 ] && [ "$ENV_NAME" = prod ]; then
    die "prod needs admission enforcement: neither ValidatingAdmissionPolicy nor Kyverno is available"
  fi
fi

echo "==> API server endpoints for the flask-api egress NetworkPolicy"
if [ "$CILIUM" = 1 ] || [ -n "$API_SERVER_CIDRS" ]; then
  note "API server endpoints not read: $([ "$CILIUM" = 1 ] && echo 'Cilium entity kube-apiserver' || echo "--api-server-cidrs $API_SERVER_CIDRS")"
elif [ "$DRY_RUN" = 1 ]; then
  run "${KUBECTL[@]}" get endpoints kubernetes -n default -o 'jsonpath={.subsets[*].addresses[*].ip}'
else
  ips="$("${KUBECTL[@]}" get endpoints kubernetes -n default -o 'jsonpath={.subsets[*].addresses[*].ip}')"
  ports="$("${KUBECTL[@]}" get endpoints kubernetes -n default -o 'jsonpath={.subsets[*].ports[*].port}')"
  svc="$("${KUBECTL[@]}" get service kubernetes -n default -o 'jsonpath={.spec.clusterIP}')"
  if [ -z "$ips" ] || [ -z "$svc" ]; then
    die "could not read the API server addresses (kubectl get endpoints/service kubernetes -n default)"
  fi
  cidrs="$svc/32"
  for ip in $ips; do cidrs="$cidrs,$ip/32"; done
  SETS+=(--set "api.apiServer.cidrs={$cidrs}" --set "api.apiServer.ports={443,${ports// /,}}")
fi

echo "==> namespaces: $NAMESPACE (Pod Security Admission + admission-policy labels, rendered from the chart)"
if [ "$SKIP_NAMESPACES" = 1 ]; then
  note "--skip-namespaces: Namespace objects not applied (a cluster admin applies: helm template ... --set namespace.create=true --show-only templates/namespace.yaml)"
else
  run_to "$RENDER_DIR/namespace.yaml" "${HELM[@]}" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
    "${VALUE_ARGS[@]}" "${SETS[@]}" "${RENDER_APIS[@]}" --set namespace.create=true --show-only templates/namespace.yaml
  run "${KUBECTL[@]}" apply -f "$RENDER_DIR/namespace.yaml"
fi

if [ "$ENV_NAME" = minikube ]; then
  echo "==> images built here, loaded into minikube profile $PROFILE (imagePullPolicy Never)"
  if [ "$DRY_RUN" = 1 ]; then
    registry="$(sed -n 's/^imageRegistry: *//p' "$VALUES" "$CHART/values.yaml" | head -n 1)"
    images=("$registry/flask-api:$IMAGE_TAG_ARG" "$registry/nginx-proxy:$IMAGE_TAG_ARG")
  else
    # Every image the rendered chart runs (workloads and the helm test pod).
    mapfile -t images < <(sed -n 's/^ *image: *"\{0,1\}\([^" ]*\)"\{0,1\} *$/\1/p' "$RENDER_DIR/chart.yaml" | sort -u)
  fi
  for image in "${images[@]}"; do
    built="${REGISTRY:-}${image##*/}"  # what `make images` builds: $(REGISTRY)<name>:<tag>
    if [ "$DRY_RUN" = 1 ] || ! "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
      if [ "$DRY_RUN" != 1 ] && ! "$DOCKER" image inspect "$built" >/dev/null 2>&1; then
        die "image $built is not built here (make images IMAGE_TAG=${image##*:}); minikube cannot pull $image"
      fi
      run "$DOCKER" tag "$built" "$image"
    fi
    run minikube --profile "$PROFILE" image load "$image"
  done
fi

# auth.mode secret: the token Secret is created out of band (never from git). Without it the API pods cannot
# start and --atomic rolls back after the whole timeout, so check it first.
precedence=("$CHART/values.yaml" "$VALUES" "${EXTRA_VALUES[@]}")  # the last file that sets auth.mode wins
auth_mode="$(sed -n '/^auth:/,/^[^ ]/s/^  mode: *//p' "${precedence[@]}" | tail -n 1)"
if [ "$DRY_RUN" != 1 ] && [ "$auth_mode" = secret ]; then
  token_secret="$(awk '/^ *secret: *$/ { getline; if ($1 == "secretName:") print $2 }' "$RENDER_DIR/chart.yaml" | head -n 1)"
  if [ -n "$token_secret" ] && ! grep -q "^kind: Secret" "$RENDER_DIR/chart.yaml" \
    && ! "${KUBECTL[@]}" -n "$NAMESPACE" get secret "$token_secret" >/dev/null 2>&1; then
    die "Secret $NAMESPACE/$token_secret (the API token, key token) is missing: ${KUBECTL[*]} -n $NAMESPACE create secret generic $token_secret --from-file=token=./token"
  fi
fi

echo "==> release $RELEASE: chart $CHART with $(basename "$VALUES")${EXTRA_VALUES[*]:+ and ${EXTRA_VALUES[*]}}"
run "${HELM[@]}" upgrade --install "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
  "${VALUE_ARGS[@]}" --set namespace.create=false "${SETS[@]}" "${HELM_EXTRA[@]}" --atomic --wait --timeout 10m
run "${HELM[@]}" test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m
run "${HELM[@]}" status "$RELEASE" --namespace "$NAMESPACE"
echo "==> reach the API: kubectl ${CONTEXT:+--context $CONTEXT }-n $NAMESPACE port-forward svc/$RELEASE-container-inventory-nginx-proxy 8080:80"
echo "    then: curl -s http://127.0.0.1:8080/api/containers"

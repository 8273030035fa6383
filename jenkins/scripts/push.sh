#!/usr/bin/env bash
# Push every image in IMAGES with both tags (IMAGE_TAG and GIT_SHA) to PUSH_REGISTRY.
# Credentials come from the environment (Jenkins withCredentials): REGISTRY_USER and REGISTRY_PASSWORD
# (or REGISTRY_PASSWORD_FILE). The password goes to `docker login --password-stdin` only and is never printed;
# the login lives in a throw-away DOCKER_CONFIG that is deleted on exit. PUSH_DRY_RUN=1 prints the plan instead.
set -euo pipefail

die() { echo "push: $*" >&2; exit 2; }

DOCKER="${DOCKER:-/usr/bin/docker}"
[ -n "${PUSH_REGISTRY:-}" ] || die "PUSH_REGISTRY is not set (e.g. PUSH_REGISTRY=docker.io/<org>); refusing to push"
[ -n "${REGISTRY_USER:-}" ] || die "REGISTRY_USER is not set (Jenkins: withCredentials 'dockerhub'); refusing to push"
if [ -z "${REGISTRY_PASSWORD:-}" ] && [ -n "${REGISTRY_PASSWORD_FILE:-}" ]; then
  [ -r "$REGISTRY_PASSWORD_FILE" ] || die "REGISTRY_PASSWORD_FILE $REGISTRY_PASSWORD_FILE is not readable"
  REGISTRY_PASSWORD="$(cat "$REGISTRY_PASSWORD_FILE")"
fi
[ -n "${REGISTRY_PASSWORD:-}" ] || die "REGISTRY_PASSWORD (or REGISTRY_PASSWORD_FILE) is not set; refusing to push"
if [ -z "${IMAGES:-}" ] || [ -z "${IMAGE_TAG:-}" ] || [ -z "${GIT_SHA:-}" ]; then
  die "IMAGES, IMAGE_TAG and GIT_SHA must be set (run via make push)"
fi
[ "$GIT_SHA" != unknown ] || die "GIT_SHA is unknown (not a git checkout); refusing to push an untraceable image"

target="${PUSH_REGISTRY%/}"
host="${target%%/*}"
reports="${REPORTS_DIR:-reports}/push"

run() {
  if [ "${PUSH_DRY_RUN:-0}" = 1 ]; then echo "    [dry-run] $*"; else "$@"; fi
}

DOCKER_CONFIG="$(mktemp -d)"
export DOCKER_CONFIG
trap 'rm -rf "$DOCKER_CONFIG"' EXIT

echo "==> docker login $host as $REGISTRY_USER (password via stdin)"
if [ "${PUSH_DRY_RUN:-0}" = 1 ]; then
  echo "    [dry-run] $DOCKER login --username $REGISTRY_USER --password-stdin $host"
else
  printf '%s' "$REGISTRY_PASSWORD" | "$DOCKER" login --username "$REGISTRY_USER" --password-stdin "$host" >/dev/null
fi
unset REGISTRY_PASSWORD

mkdir -p "$reports"
for img in $IMAGES; do
  src="${REGISTRY:-}${img}:${IMAGE_TAG}"
  if [ "${PUSH_DRY_RUN:-0}" != 1 ]; then
    "$DOCKER" image inspect "$src" >/dev/null 2>&1 || die "image $src not found locally (run make images)"
  fi
  for tag in "$IMAGE_TAG" "$GIT_SHA"; do
    echo "==> push $target/$img:$tag"
    run "$DOCKER" tag "$src" "$target/$img:$tag"
    run "$DOCKER" push --quiet "$target/$img:$tag"
  done
  if [ "${PUSH_DRY_RUN:-0}" != 1 ]; then
    # The registry digest is what deploys should pin; keep it next to the SBOM evidence.
    "$DOCKER" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$target/$img:$IMAGE_TAG" \
      > "$reports/$img.repo-digests.txt"
  fi
done
echo "==> $([ "${PUSH_DRY_RUN:-0}" = 1 ] && echo "dry run, nothing pushed" || echo pushed): $IMAGES ($IMAGE_TAG, $GIT_SHA) to $target"

#!/usr/bin/env bash
# registry.sh push|pull|mirror: move images between the local engine and PUSH_REGISTRY (run via make).
#   push  tag and push every image as IMAGE_TAG (mutable, e.g. 0.1.0) and BUILD_TAG (VERSION-gitsha, immutable), then
#         record what the registry stored in reports/images/<image>.json and the merged reports/images.json:
#         {"<image>": {"repository": "<registry>/<image>", "tag": "<BUILD_TAG>", "digest": "sha256:..."}}
#         plus reports/push/tag (the immutable tag; the build job hands it to runner-job).
#   mirror  for each MIRROR_SPECS entry <name>=<upstream>:<tag>: pull upstream, push as <registry>/<name>:<tag>, record it.
#   pull  pull the images under test (IMAGES) at IMAGE_TAG and their peers (PEERS) at PEER_TAG, tagged locally as
#         <image>:IMAGE_TAG, the tag the integration suite runs.
# Credentials come from the environment (Jenkins withCredentials): REGISTRY_USER and REGISTRY_PASSWORD (or
# REGISTRY_PASSWORD_FILE). The password goes to `docker login --password-stdin` only and is never printed; the login
# lives in a throw-away DOCKER_CONFIG deleted on exit. Pulling without REGISTRY_USER uses no login (public registry).
# PUSH_DRY_RUN=1 prints the plan instead.
set -euo pipefail

die() { echo "registry: $*" >&2; exit 2; }

mode="${1:-}"
case "$mode" in push|pull|mirror) ;; *) die "usage: registry.sh push|pull|mirror (run via make push / pull-images / mirror)" ;; esac
DOCKER="${DOCKER:-/usr/bin/docker}"
[ -n "${PUSH_REGISTRY:-}" ] || die "PUSH_REGISTRY is not set (make reads imageRegistry from the chart's values.yaml); refusing to $mode"
if [ "$mode" = mirror ]; then
  [ -n "${MIRROR_SPECS:-}" ] || die "MIRROR_SPECS is empty (jenkins/mirror-images.txt + the chart's images.<name>.tag)"
else
  if [ -z "${IMAGES:-}" ] || [ -z "${IMAGE_TAG:-}" ]; then die "IMAGES and IMAGE_TAG must be set (run via make $mode)"; fi
fi
if [ -z "${REGISTRY_PASSWORD:-}" ] && [ -n "${REGISTRY_PASSWORD_FILE:-}" ]; then
  [ -r "$REGISTRY_PASSWORD_FILE" ] || die "REGISTRY_PASSWORD_FILE $REGISTRY_PASSWORD_FILE is not readable"
  REGISTRY_PASSWORD="$(cat "$REGISTRY_PASSWORD_FILE")"
fi
if [ "$mode" != pull ]; then
  [ -n "${REGISTRY_USER:-}" ] || die "REGISTRY_USER is not set (Jenkins: withCredentials 'registry'); refusing to $mode"
  [ -n "${REGISTRY_PASSWORD:-}" ] || die "REGISTRY_PASSWORD (or REGISTRY_PASSWORD_FILE) is not set; refusing to $mode"
fi
if [ "$mode" = push ]; then
  [ -n "${BUILD_TAG:-}" ] || die "BUILD_TAG must be set (run via make push)"
  case "$BUILD_TAG" in *-unknown) die "GIT_SHA is unknown (not a git checkout); refusing to push an untraceable image" ;; esac
fi

target="${PUSH_REGISTRY%/}"
host="${target%%/*}"
reports="${REPORTS_DIR:-reports}"
dry() { [ "${PUSH_DRY_RUN:-0}" = 1 ]; }
run() {
  if dry; then echo "    [dry-run] $*"; else "$@"; fi
}

DOCKER_CONFIG="$(mktemp -d)"
export DOCKER_CONFIG
trap 'rm -rf "$DOCKER_CONFIG"' EXIT
if [ -n "${REGISTRY_USER:-}" ] && [ -n "${REGISTRY_PASSWORD:-}" ]; then
  echo "==> docker login $host as $REGISTRY_USER (password via stdin)"
  if dry; then
    echo "    [dry-run] $DOCKER login --username $REGISTRY_USER --password-stdin $host"
  else
    printf '%s' "$REGISTRY_PASSWORD" | "$DOCKER" login --username "$REGISTRY_USER" --password-stdin "$host" >/dev/null
  fi
fi
unset REGISTRY_PASSWORD

if [ "$mode" = pull ]; then
  for img in $IMAGES ${PEERS:-}; do
    case " $IMAGES " in *" $img "*) tag="$IMAGE_TAG" ;; *) tag="${PEER_TAG:?PEER_TAG must be set with PEERS}" ;; esac
    echo "==> pull $target/$img:$tag (as ${REGISTRY:-}$img:$IMAGE_TAG)"
    run "$DOCKER" pull --quiet "$target/$img:$tag" >/dev/null
    run "$DOCKER" tag "$target/$img:$tag" "${REGISTRY:-}$img:$IMAGE_TAG"
  done
  exit 0
fi

# push_one IMAGE TAG: push <registry>/IMAGE:TAG and print the digest the registry stored (`docker push` ends with
# "<tag>: digest: sha256:<hex> size: <n>").
push_one() {
  local out digest
  out="$("$DOCKER" push "$target/$1:$2")" || die "docker push $target/$1:$2 failed: $out"
  digest="$(printf '%s\n' "$out" | sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' | tail -n 1)"
  [ -n "$digest" ] || die "docker push $target/$1:$2 printed no digest"
  printf '%s' "$digest"
}

# record IMAGE TAG DIGEST: one file per image, so build jobs never clash; merged into reports/images.json.
record() {
  printf '{"%s": {"repository": "%s", "tag": "%s", "digest": "%s"}}\n' "$1" "$target/$1" "$2" "$3" \
    > "$reports/images/$1.json"
}

mkdir -p "$reports/images" "$reports/push"
if [ "$mode" = mirror ]; then
  for spec in $MIRROR_SPECS; do
    name="${spec%%=*}"
    upstream="${spec#*=}"
    tag="${upstream##*:}"
    case "$name:$upstream:$tag" in *::*|:*|*:) die "bad mirror spec '$spec' (want <name>=<upstream>:<tag>)" ;; esac
    echo "==> mirror $upstream -> $target/$name:$tag"
    run "$DOCKER" pull --quiet "$upstream" >/dev/null
    run "$DOCKER" tag "$upstream" "$target/$name:$tag"
    if dry; then echo "    [dry-run] $DOCKER push $target/$name:$tag"; continue; fi
    record "$name" "$tag" "$(push_one "$name" "$tag")"
  done
  dry || python3 "$(dirname "$0")/images_json.py" "$reports/images" --registry "$target" > "$reports/images.json"
  exit 0
fi

for img in $IMAGES; do
  src="${REGISTRY:-}${img}:${IMAGE_TAG}"
  if ! dry; then
    "$DOCKER" image inspect "$src" >/dev/null 2>&1 || die "image $src not found locally (run make images)"
  fi
  digest=""
  for tag in "$BUILD_TAG" "$IMAGE_TAG"; do
    echo "==> push $target/$img:$tag"
    run "$DOCKER" tag "$src" "$target/$img:$tag"
    if dry; then
      echo "    [dry-run] $DOCKER push $target/$img:$tag"
      continue
    fi
    pushed="$(push_one "$img" "$tag")"
    [ -z "$digest" ] || [ "$digest" = "$pushed" ] || die "$img: $tag has digest $pushed, $BUILD_TAG has $digest"
    digest="$pushed"
  done
  # The registry digest of the immutable tag is what deploys pin (prod deploys by digest).
  dry || record "$img" "$BUILD_TAG" "$digest"
done
if ! dry; then
  printf '%s\n' "$BUILD_TAG" > "$reports/push/tag"
  python3 "$(dirname "$0")/images_json.py" "$reports/images" --registry "$target" > "$reports/images.json"
fi
echo "==> $(dry && echo "dry run, nothing pushed" || echo pushed): $IMAGES ($BUILD_TAG, $IMAGE_TAG) to $target"

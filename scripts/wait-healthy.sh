#!/usr/bin/env bash
# Wait until every container of a compose project is healthy (or fail after a timeout,
# printing the unhealthy ones and their last health log).
set -euo pipefail
project="${1:?usage: wait-healthy.sh COMPOSE_PROJECT [TIMEOUT_SECONDS]}"
timeout="${2:-120}"
docker="${DOCKER:-docker}"
deadline=$(( $(date +%s) + timeout ))
while :; do
  mapfile -t states < <("$docker" ps -a --filter "label=com.docker.compose.project=$project" \
      --format '{{.Names}} {{.Status}}')
  if [ "${#states[@]}" -gt 0 ] && ! printf '%s\n' "${states[@]}" | grep -vq '(healthy)'; then
    echo "wait-healthy: all ${#states[@]} containers of $project are healthy"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "wait-healthy: timed out after ${timeout}s:" >&2
    printf '  %s\n' "${states[@]}" >&2
    for name in $(printf '%s\n' "${states[@]}" | grep -v '(healthy)' | awk '{print $1}'); do
      "$docker" logs --tail 20 "$name" >&2 || true
    done
    exit 1
  fi
  sleep 1
done

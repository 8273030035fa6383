#!/usr/bin/env bash
# Map an image name to the folder holding its Dockerfile (one folder per service).
set -euo pipefail
case "${1:?image name}" in
  flask-api) echo api ;;
  inventory-nginx-exporter) echo deploy/monitoring/images/nginx-exporter ;;
  nginx-proxy) echo nginx ;;
  socket-proxy) echo socket-proxy ;;
  *) echo "image-dir: unknown image $1" >&2; exit 1 ;;
esac

#!/bin/sh
# Render nginx.conf from the template into the tmpfs (the root filesystem is read-only),
# substituting only our own variables, validate it, then run nginx in the foreground.
set -euf  # -f: no pathname expansion (SERVER_NAMES may hold '*.example.com')
: "${API_UPSTREAM:=flask-api:8000}"
: "${RATE_LIMIT:=20r/s}"
: "${RATE_BURST:=40}"
: "${CONN_LIMIT:=64}"
: "${LOGIN_RATE_LIMIT:=10r/m}"
: "${LOGIN_RATE_BURST:=10}"
export API_UPSTREAM RATE_LIMIT RATE_BURST CONN_LIMIT LOGIN_RATE_LIMIT LOGIN_RATE_BURST
mkdir -p /tmp/nginx/client_body /tmp/nginx/proxy /tmp/nginx/fastcgi /tmp/nginx/uwsgi /tmp/nginx/scgi \
         /tmp/nginx/cache /tmp/nginx/extra /tmp/nginx/static
if [ "${BENCH_STATIC:-0}" = "1" ]; then
  # `make bench` only: serve files from the tmpfs to measure this Nginx's static ceiling.
  cat > /tmp/nginx/extra/bench-static.conf <<'CONF'
location /_bench/ {
    alias /tmp/nginx/static/;
    default_type application/json;
}
CONF
fi
# REAL_IP_FROM: CIDRs (space or comma separated) of the ingress controllers whose X-Forwarded-For is trusted.
: > /tmp/nginx/real-ip.conf
for cidr in $(printf '%s' "${REAL_IP_FROM:-}" | tr ',' ' '); do
  if ! printf '%s' "$cidr" | grep -Eq '^([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?$'; then
    echo "error: REAL_IP_FROM: '$cidr' is not an IPv4/IPv6 address or CIDR" >&2
    exit 2
  fi
  printf 'set_real_ip_from %s;\n' "$cidr" >> /tmp/nginx/real-ip.conf
done
if [ -s /tmp/nginx/real-ip.conf ]; then
  printf 'real_ip_header X-Forwarded-For;\nreal_ip_recursive on;\n' >> /tmp/nginx/real-ip.conf
fi
# SERVER_NAMES: the host names (space or comma separated) the API is served under besides 127.0.0.1 and localhost
# (an ingress host, a Service's DNS name); any other Host header gets 421 (DNS rebinding, nginx.conf.template).
names="127.0.0.1 localhost"
for name in $(printf '%s' "${SERVER_NAMES:-}" | tr ',' ' ' | tr '[:upper:]' '[:lower:]'); do
  if ! printf '%s' "$name" | grep -Eq '^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'; then
    echo "error: SERVER_NAMES: '$name' is not a host name (letters, digits, '-' and '.', optionally '*.' first)" >&2
    exit 2
  fi
  case " $names " in *" $name "*) ;; *) names="$names $name" ;; esac
done
SERVER_NAMES=$names
export SERVER_NAMES
# shellcheck disable=SC2016 # literal ${VAR} names: envsubst substitutes only these
envsubst '${API_UPSTREAM} ${SERVER_NAMES} ${RATE_LIMIT} ${RATE_BURST} ${CONN_LIMIT} ${LOGIN_RATE_LIMIT} ${LOGIN_RATE_BURST}' \
  < /etc/nginx/nginx.conf.template > /tmp/nginx/nginx.conf
nginx -e stderr -t -q -c /tmp/nginx/nginx.conf
exec nginx -e stderr -c /tmp/nginx/nginx.conf -g 'daemon off;'

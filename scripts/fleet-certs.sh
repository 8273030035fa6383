#!/usr/bin/env bash
# Make the certificates for mutual TLS between the inventory API and remote socket proxies:
#   DIR/ca.pem, ca-key.pem             a CA that signs both sides (keep ca-key.pem offline)
#   DIR/socket-proxy.pem, -key.pem     server certificate of the socket proxies (TLS_CERT_FILE / TLS_KEY_FILE),
#                                      valid for every NAME given (DNS names or IP addresses the API dials)
#   DIR/api.pem, api-key.pem           client certificate of the API (a source's tls.cert / tls.key)
# The proxies get TLS_CA_FILE=ca.pem (who may connect), the API gets tls.ca=ca.pem (whom it talks to).
# Keys are readable only by their users: uid 10001 (flask-api) and 10003 (socket-proxy) when run as root.
#
#   scripts/fleet-certs.sh DIR NAME...        e.g. scripts/fleet-certs.sh /tmp/fleet-certs socket-proxy-b 10.0.0.7
set -euo pipefail
dir="${1:?usage: fleet-certs.sh DIR NAME... (DNS names / IPs of the socket proxies)}"
shift
[ "$#" -gt 0 ] || { echo "fleet-certs: name at least one socket proxy host (DNS name or IP)" >&2; exit 2; }
days="${CERT_DAYS:-365}"
mkdir -p "$dir"
cd "$dir"

sans=""
for name in "$@"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then sans+="IP:$name,"; else sans+="DNS:$name,"; fi
done
sans="${sans%,}"

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

if [ ! -s ca.pem ]; then
  key ca-key.pem
  openssl req -x509 -new -key ca-key.pem -sha256 -days "$days" -subj "/CN=container-inventory fleet CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
fi

issue() {  # issue NAME EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
  local name="$1" usage="$2" alt="${3:-}" ext
  ext="$(mktemp)"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$usage" >"$ext"
  [ -z "$alt" ] || printf 'subjectAltName=%s\n' "$alt" >>"$ext"
  key "$name-key.pem"
  openssl req -new -key "$name-key.pem" -subj "/CN=$name" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" -sha256 \
    -extfile "$ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$ext"
}
issue socket-proxy serverAuth "$sans"
issue api clientAuth

chmod 0755 .
chmod 0644 ca.pem socket-proxy.pem api.pem
chmod 0600 ca-key.pem
chmod 0400 socket-proxy-key.pem api-key.pem
if [ "$(id -u)" = 0 ]; then
  chown 10003:10003 socket-proxy-key.pem
  chown 10001:10001 api-key.pem
else
  echo "fleet-certs: not root: chown socket-proxy-key.pem to 10003 and api-key.pem to 10001 before mounting them" >&2
fi
echo "fleet-certs: wrote $dir (CA, socket-proxy for $sans, api client)"

#!/usr/bin/env bash
# Throw-away TLS material for tests and local clusters (openssl):
#   scripts/certs.sh DIR [NAME…]
# DIR/ca.{crt,key}: a CA; DIR/NAME.{crt,key} for each NAME (default: runner etcd postgres http
# client), signed by it, valid for 127.0.0.1, ::1 and localhost, usable as server and client
# certificates; DIR/foreign-ca.crt and DIR/impostor.{crt,key}: the same from another CA, for
# refusal tests. Keys are unencrypted; nothing here is for production.
set -euo pipefail
dir="${1:?usage: certs.sh DIR [NAME…]}"
shift
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(runner etcd postgres http client)
mkdir -p "$dir"
cd "$dir"
ext="$(mktemp)"
trap 'rm -f "$ext"' EXIT
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$ext"

ca() { # ca NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # leaf NAME CA
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" -days 2 -extfile "$ext" 2>/dev/null
  rm -f "$1.csr"
}
ca ca "entity-cluster test CA"
for name in "${names[@]}"; do leaf "$name" ca; done
ca foreign-ca "some other CA"
leaf impostor foreign-ca
# Postgres refuses a key file others can read.
chmod 600 ./*.key
echo "$dir"

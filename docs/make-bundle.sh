#!/bin/sh
# Builds a signed root bundle with OpenSSL 3 and POSIX tools only, following
# docs/bundle-format.md. tests/openssl.rs runs it and verifies the result with the library.
#
# usage: make-bundle.sh OUT FLEET VERSION ISSUED_AT EXPIRES_AT THRESHOLD \
#            "NEXT_SIGNER_PUBKEYS.pem ..." "SIGNING_KEYS.pem ..." ROOT.pem ...
set -eu
[ $# -ge 9 ] || { sed -n '5,6p' "$0" >&2; exit 2; }
out=$1 fleet=$2 version=$3 issued=$4 expires=$5 threshold=$6 next=$7 signing=$8
shift 8
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

b64() { openssl base64 -A; }                                  # standard alphabet, padded
sha256_hex() { openssl dgst -sha256 -r | cut -c1-64; }       # lowercase hex
raw_pubkey() { openssl pkey -pubin -in "$1" -outform DER | tail -c 32; }  # SPKI ends in the key

# The payload: compact JSON, one line, no trailing newline.
roots="" certs=""
for pem in "$@"; do
    openssl x509 -in "$pem" -outform DER > "$tmp/cert.der"
    roots="$roots${roots:+,}{\"sha256\":\"$(sha256_hex < "$tmp/cert.der")\"}"
    certs="$certs${certs:+,}\"$(b64 < "$tmp/cert.der")\""
done
keys=""
for pub in $next; do
    keys="$keys${keys:+,}\"$(raw_pubkey "$pub" | b64)\""
done
printf '{"schema":1,"fleet":"%s","version":%s,"issued_at":"%s","expires_at":"%s","roots":[%s],"signers":{"threshold":%s,"keys":[%s]}}' \
    "$fleet" "$version" "$issued" "$expires" "$roots" "$threshold" "$keys" > "$tmp/payload"

# PAE = "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
type=application/vnd.aws-iot-roots.bundle.v1+json
len=$(wc -c < "$tmp/payload" | tr -d ' ')
{ printf 'DSSEv1 %s %s %s ' "${#type}" "$type" "$len"; cat "$tmp/payload"; } > "$tmp/pae"

# One signature per signing key: pure Ed25519 over the raw PAE bytes.
sigs=""
for key in $signing; do
    openssl pkey -in "$key" -pubout -out "$tmp/pub.pem"
    keyid=$(raw_pubkey "$tmp/pub.pem" | sha256_hex)
    sig=$(openssl pkeyutl -sign -rawin -inkey "$key" -in "$tmp/pae" | b64)
    sigs="$sigs${sigs:+,}{\"keyid\":\"$keyid\",\"sig\":\"$sig\"}"
done

printf '{"envelope":{"payloadType":"%s","payload":"%s","signatures":[%s]},"certificates":[%s]}\n' \
    "$type" "$(b64 < "$tmp/payload")" "$sigs" "$certs" > "$out"

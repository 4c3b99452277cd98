#!/usr/bin/env bash
# Size of a stripped release binary that builds a rustls ClientConfig, with an empty store
# (baseline), webpki-roots, aws-iot-roots' default roots, and Amazon Root CA 3 alone; all in
# the same run. Usage: scripts/footprint.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/downstream.sh
source "$repo/scripts/downstream.sh"
dep="aws-iot-roots = { path = \"$repo\", default-features = false"
make_crate "$work" baseline "" "rustls::RootCertStore::empty()"
make_crate "$work" webpki-roots 'webpki-roots = "1"' "rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }"
make_crate "$work" aws-default "$dep, features = [\"std\", \"rustls\", \"amazon-root-ca-1\", \"amazon-root-ca-2\", \"amazon-root-ca-3\", \"amazon-root-ca-4\", \"starfield-services-g2\"] }" "aws_iot_roots::root_cert_store()"
make_crate "$work" aws-ca3 "$dep, features = [\"rustls\", \"amazon-root-ca-3\"] }" "aws_iot_roots::root_cert_store()"
declare -A size
for c in baseline webpki-roots aws-default aws-ca3; do
    (cd "$work/$c" && cargo build -q --release --offline 2>/dev/null)
    size[$c]=$(stat -c %s "$work/$c/target/release/downstream-$c")
done
b=${size[baseline]}
for c in baseline webpki-roots aws-default aws-ca3; do
    printf '%-14s %9d bytes  (+%d over baseline)\n' "$c" "${size[$c]}" "$(( ${size[$c]} - b ))"
done
echo "machine: $(uname -m), $(rustc --version)"

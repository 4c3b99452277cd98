#!/usr/bin/env bash
# Clean-build cost that aws-iot-roots adds to a small rustls downstream, against webpki-roots,
# measured in the same run. Usage: scripts/build-cost.sh [RUNS]   (default 3)
# Prints the median wall time of a clean `cargo build` (debug, -j as the machine) for:
#   baseline      rustls (ring) with an empty root store
#   webpki-roots  the same, with webpki-roots' TLS_SERVER_ROOTS
#   aws-iot-roots the same, with aws_iot_roots::root_cert_store() from this checkout
set -euo pipefail
runs=${1:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/downstream.sh
source "$repo/scripts/downstream.sh"
make_crate "$work" baseline "" "rustls::RootCertStore::empty()"
make_crate "$work" webpki-roots 'webpki-roots = "1"' "rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }"
make_crate "$work" aws-iot-roots "aws-iot-roots = { path = \"$repo\", features = [\"rustls\"] }" "aws_iot_roots::root_cert_store()"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (a - b) * 100 / b}'; }
declare -A wall cpu
TIMEFORMAT='%R %U %S'
for c in baseline webpki-roots aws-iot-roots; do
    walls=(); cpus=()
    for _ in $(seq "$runs"); do
        rm -rf "$work/$c/target"
        t=$( { time (cd "$work/$c" && cargo build -q --offline >/dev/null 2>&1); } 2>&1 )
        read -r real user sys <<<"$t"
        walls+=("$real")
        cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')")
    done
    wall[$c]=$(printf '%s\n' "${walls[@]}" | median)
    cpu[$c]=$(printf '%s\n' "${cpus[@]}" | median)
    echo "$c: wall ${walls[*]} s (median ${wall[$c]}); cpu ${cpus[*]} s (median ${cpu[$c]})"
done
for c in webpki-roots aws-iot-roots; do
    echo "$c vs baseline: wall $(pct "${wall[$c]}" "${wall[baseline]}"), cpu $(pct "${cpu[$c]}" "${cpu[baseline]}")"
done
echo "machine: $(nproc) cores, $(rustc --version)"

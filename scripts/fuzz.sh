#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and reports executions and findings.
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz passes -Z flags; the toolchain here is stable only.
export RUSTC_BOOTSTRAP=1
status=0
for t in envelope payload verify store_open jobs; do
    scratch=$(mktemp -d)
    cp -r "fuzz/corpus/$t/." "$scratch/"
    log=$(mktemp)
    if cargo fuzz run "$t" "$scratch" -- -max_total_time="$secs" -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "$t: $result, $runs executions in ${secs}s, coverage $cov, corpus $(ls "$scratch" | wc -l) inputs"
    if [ "$result" = FAILED ]; then
        tail -40 "$log"
        ls "fuzz/artifacts/$t" 2>/dev/null || true
    fi
    rm -rf "$scratch" "$log"
done
exit $status

#!/usr/bin/env bash
# The simulated fleet rollout (tests/fleet.rs) at several sizes, with a release build of the
# agent, for BENCHMARKS.md. Usage: scripts/fleet-sim.sh [DEVICES ...]   (default: 50 200 1000)
# Needs mosquitto. 1,000 agents: 5.7 MB RSS each (about 1 GiB in use in all, as pages are
# shared), and a few thousand file descriptors (raised below).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50 200 1000)
# Every agent is a process with a TLS connection; the broker holds one socket per agent.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --locked -q --release --example fleet_agent --features rumqttc,store,jobs
agent="$PWD/target/release/examples/fleet_agent"
report="${FLEET_SIM_REPORT:-target/fleet-sim.txt}"
: > "$report"
for n in "${sizes[@]}"; do
    echo "==> $n devices"
    FLEET_SIM_DEVICES="$n" FLEET_SIM_AGENT="$agent" FLEET_SIM_REPORT="$PWD/$report" \
        cargo test --locked -q --all-features --test fleet -- --nocapture 2>&1 | grep -E '^fleet-sim|test result'
done
echo "figures: $report"

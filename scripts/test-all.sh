#!/usr/bin/env bash
# Every check CI runs, in the order a failure is cheapest to find. Installs what the tests
# need when it is missing (CI machines start fresh; nothing installed by hand survives).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
need() { # need COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)"
    if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need openssl openssl
# PKCS#11 signing against a real token (tools/tests/pkcs11.rs): SoftHSM2 and OpenSC's pkcs11-tool.
need softhsm2-util softhsm2
need pkcs11-tool opensc
# mosquitto lives in /usr/sbin, which a non-login PATH may lack.
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need mosquitto mosquitto
# docs/aws-iot-jobs.md's "try it locally" plays the Jobs service with mosquitto_pub/_sub.
need mosquitto_pub mosquitto-clients
# The v2 interop test (tests/pyca_interop.rs): pyca/cryptography 48+, for ML-DSA, in a venv
# of its own (Debian's python3 refuses system-wide pip installs).
need python3 python3
py_ok() { "$1" -c 'from cryptography.hazmat.primitives.asymmetric import mldsa' 2>/dev/null; }
if [ -z "${IOT_ROOTS_PYTHON:-}" ]; then
    if py_ok python3; then
        IOT_ROOTS_PYTHON=python3
    else
        venv=target/pyca-venv
        if ! py_ok "$venv/bin/python"; then
            echo "installing pyca/cryptography 48 (for ML-DSA interop) in $venv"
            if ! python3 -m venv "$venv" 2>/dev/null; then
                echo "installing python3-venv"
                if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
                python3 -m venv "$venv"
            fi
            "$venv/bin/pip" install -q "cryptography>=48,<49"
        fi
        IOT_ROOTS_PYTHON=$PWD/$venv/bin/python
    fi
    export IOT_ROOTS_PYTHON
fi

# Each step says when it started (seconds since the script began): CI's time budget is read
# from these.
# A fresh CI machine builds everything once: incremental state only costs time there.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n==> [%ds] %s\n' "$SECONDS" "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (all targets, all features, then no default features)"
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
cargo clippy --locked -p aws-iot-roots --lib --no-default-features -- -D warnings
cargo clippy --locked -p aws-iot-roots --all-targets --features bundle -- -D warnings
cargo clippy --locked -p aws-iot-roots --all-targets --features store -- -D warnings
cargo clippy --locked -p aws-iot-roots --all-targets --features client -- -D warnings

step "MSRV: the workspace checks with the rust-version Cargo.toml declares"
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if ! rustup toolchain list | grep -q "^$msrv-"; then
    echo "installing Rust $msrv (minimal profile)"
    rustup toolchain install "$msrv" --profile minimal
fi
# A separate target directory: the MSRV build must not evict the main one's artifacts.
CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --locked --workspace --all-features

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features

step "feature subsets: no_std without alloc, Amazon Root CA 3 alone, everything"
cargo build --locked -p aws-iot-roots --no-default-features
cargo build --locked -p aws-iot-roots --no-default-features --features amazon-root-ca-3
cargo build --locked -p aws-iot-roots --all-features

step "bundle verification without std: no_std + alloc, on a target that has no std at all"
# A bare-metal target proves it: no dependency can pull std in there, even by accident.
bare=thumbv7em-none-eabihf
if ! rustup target list --installed | grep -qx "$bare"; then
    echo "installing the $bare standard library (core and alloc only)"
    rustup target add "$bare"
fi
cargo build --locked -p aws-iot-roots --no-default-features --features bundle,jobs,amazon-root-ca-3 \
    --target "$bare"
cargo clippy --locked -p aws-iot-roots --lib --no-default-features --features bundle,jobs \
    --target "$bare" -- -D warnings

step "tests: whole workspace, all features"
cargo test --locked --workspace --all-features

step "tests: default features"
cargo test --locked -p aws-iot-roots

step "tests: feature gating under other subsets"
cargo test --locked -p aws-iot-roots --no-default-features --test features --test codegen
cargo test --locked -p aws-iot-roots --no-default-features --features amazon-root-ca-3,rustls \
    --test features --test codegen --test chains
cargo test --locked -p aws-iot-roots --no-default-features --features starfield-services-g2,std,rustls \
    --test features --test chains
cargo test --locked -p aws-iot-roots --no-default-features --features store,signing --test store_no_roots

step "the data-plane example: its own crate (the AWS SDK needs Rust 1.94.1), its own lock file"
# Its own target directory, so that its SDK build never evicts the workspace's artifacts.
dp=examples/data-plane/Cargo.toml
cargo fmt --manifest-path "$dp" -- --check
# Clippy runs inside the test build (RUSTC_WORKSPACE_WRAPPER is how cargo clippy runs it), so
# the SDK is compiled once, not once more for a separate check: that saves about 2 minutes.
# -D warnings reaches this crate and its path dependency; registry crates' lints are capped.
CARGO_TARGET_DIR=target/data-plane RUSTFLAGS="-D warnings" \
    RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver" \
    cargo test --locked --manifest-path "$dp"

step "heap peak of verifying a 6-root bundle (goal: 64 KiB; BENCHMARKS.md)"
cargo run --locked -q --example verify_heap --all-features

step "fuzz smoke: every target for ${FUZZ_SECONDS:-5} s (scripts/fuzz.sh runs longer)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-5}"

echo
echo "all checks passed in ${SECONDS} s"

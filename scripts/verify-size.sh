#!/usr/bin/env bash
# Size of bundle verification in a release binary: two binaries built from one scratch crate
# with aws-iot-roots as a device has it (--no-default-features --features bundle,
# amazon-root-ca-3), one that reads a file and one that reads and verifies it. The difference
# is what the verify path adds (ed25519-dalek, sha2, serde_json, base64, der and this crate).
# Usage: scripts/verify-size.sh   (BENCHMARKS.md, "Bundle verification without std")
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/bin"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "verify-size"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
aws-iot-roots = { path = "$repo", default-features = false, features = ["bundle", "amazon-root-ca-3"] }
rustls-pki-types = { version = "1", default-features = false }
[profile.release]
strip = true
# What firmware builds use: smallest code, whole-program, no unwinding tables.
[profile.device]
inherits = "release"
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
[workspace]
TOML
# Both binaries read the same two files, so only verification differs.
cat > "$work/src/bin/floor.rs" <<'RS'
fn main() {
    let mut args = std::env::args().skip(1);
    let bundle = std::fs::read(args.next().expect("bundle")).expect("read");
    let key = std::fs::read(args.next().expect("key")).expect("read");
    println!("{} {}", bundle.len(), key.len());
}
RS
cat > "$work/src/bin/verify.rs" <<'RS'
use aws_iot_roots::bundle::{verify, Policy, PublicKey, SignerSet, TrustState, Verdict};
fn main() {
    let mut args = std::env::args().skip(1);
    let bundle = std::fs::read(args.next().expect("bundle")).expect("read");
    let key = std::fs::read(args.next().expect("key")).expect("read");
    let key = PublicKey::from_bytes(&key).expect("key");
    let state = TrustState::initial("fleet", SignerSet::new(vec![key], 1).expect("set"));
    let now = rustls_pki_types::UnixTime::since_unix_epoch(core::time::Duration::from_secs(1_800_000_000));
    match verify(&bundle, &state, now, &Policy::default()) {
        Ok(Verdict::Apply(v)) => println!("{}", v.payload().version),
        other => println!("{other:?}"),
    }
}
RS
(cd "$work" && cargo generate-lockfile -q)
for profile in release device; do
    (cd "$work" && cargo build -q --profile "$profile" --bins)
    dir=$work/target/$profile
    floor=$(stat -c %s "$dir/floor")
    verify=$(stat -c %s "$dir/verify")
    echo "$profile: floor $floor bytes, verify $verify bytes, verify path $((verify - floor)) bytes"
done
echo "machine: $(uname -m), $(rustc --version)"

# Sourced by build-cost.sh and footprint.sh: a small downstream crate that builds a rustls
# ClientConfig (ring) from a given root store. make_crate DIR NAME DEPENDENCY-LINE ROOTS-EXPR
make_crate() {
    mkdir -p "$1/$2/src"
    cat > "$1/$2/Cargo.toml" <<TOML
[package]
name = "downstream-$2"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
rustls = { version = "0.23", default-features = false, features = ["ring", "std"] }
$3
[profile.release]
strip = true
[workspace]
TOML
    cat > "$1/$2/src/main.rs" <<RS
use std::sync::Arc;
fn main() {
    let roots = $4;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    println!("{}", Arc::new(config).alpn_protocols.len());
}
RS
    (cd "$1/$2" && cargo generate-lockfile -q && cargo fetch -q)
}

//! Compiles roots/*.pem into const tables; see roots/README.md and build/gen.rs.
//!
//! The build fails, naming the file, when an enabled root is expired at build time, does not
//! match its catalogued SHA-256, is not exactly one self-issued CA certificate, or when roots/
//! holds a file the catalogue does not list. It never touches the network.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use std::{env, fs, process};

// The build logic and the certificate reader are shared with the tests; not every item is
// used by the build script itself.
#[allow(dead_code, unreachable_pub)]
#[path = "src/certparse.rs"]
mod certparse;
#[allow(dead_code)]
#[path = "build/gen.rs"]
mod gen;
#[allow(dead_code, unreachable_pub)]
#[path = "src/key.rs"]
mod key;

use gen::{Basis, CatalogueEntry, Removal};

/// Every root feature declared in Cargo.toml, so that a catalogue typo cannot silently leave
/// a root out of every build.
const ROOT_FEATURES: &[&str] = &[
    "amazon-root-ca-1",
    "amazon-root-ca-2",
    "amazon-root-ca-3",
    "amazon-root-ca-4",
    "starfield-services-g2",
    "starfield-class-2",
];

const CATALOGUE: &[CatalogueEntry] = include!("roots/catalogue.rs");

fn fail(message: &str) -> ! {
    eprintln!("error: aws-iot-roots: {message}");
    process::exit(1)
}

fn env_str(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

fn write(path: &Path, bytes: &[u8]) {
    if let Err(e) = fs::write(path, bytes) {
        fail(&format!("cannot write {}: {e}", path.display()));
    }
}

fn main() {
    let Some(manifest_dir) = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        fail("CARGO_MANIFEST_DIR is not set: run through cargo");
    };
    let Some(out_dir) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("OUT_DIR is not set: run through cargo");
    };
    let roots_dir = manifest_dir.join("roots");
    println!("cargo:rerun-if-changed=roots");
    println!("cargo:rerun-if-changed=build/gen.rs");
    println!("cargo:rerun-if-changed=src/certparse.rs");

    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let now = gen::build_time(env_str("SOURCE_DATE_EPOCH").as_deref(), wall)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let warn_days = gen::warn_days(env_str(gen::WARN_DAYS_ENV).as_deref())
        .unwrap_or_else(|e| fail(&e.to_string()));
    let enabled: Vec<&str> = ROOT_FEATURES
        .iter()
        .copied()
        .filter(|f| {
            env::var_os(format!(
                "CARGO_FEATURE_{}",
                f.to_ascii_uppercase().replace('-', "_")
            ))
            .is_some()
        })
        .collect();

    let input = gen::Inputs {
        roots_dir: &roots_dir,
        catalogue: CATALOGUE,
        enabled: &enabled,
        now,
        warn_days,
    };
    let out = match gen::generate(&input, ROOT_FEATURES) {
        Ok(out) => out,
        Err(e) => fail(&e.to_string()),
    };
    for path in &out.inputs {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    for warning in &out.warnings {
        println!("cargo:warning={warning}");
    }
    for (name, der) in &out.ders {
        write(&out_dir.join(name), der);
    }
    write(&out_dir.join("roots.rs"), out.rust.as_bytes());
    write(&out_dir.join("roots.pem"), out.pem.as_bytes());
    let mut nul = out.pem.into_bytes();
    nul.push(0);
    write(&out_dir.join("roots.pem.nul"), &nul);
}

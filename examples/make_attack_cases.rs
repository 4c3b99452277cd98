//! Writes the attack catalogue (tests/attacks/cases/) from the committed test keys:
//! `cargo run --example make_attack_cases --features signing -- tests/attacks/cases`.
//! tests/attacks.rs checks that the committed catalogue is exactly what this produces, and
//! runs every case, including ones added by hand.

#[path = "../tests/support/attack_gen.rs"]
mod attack_gen;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/bundles.rs"]
mod support;

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tests/attacks/cases"));
    let cases = attack_gen::cases(
        attack_gen::load_keys(&root.join("tests/attacks/keys")),
        &root.join("tests/data"),
    );
    attack_gen::write(&cases, &out);
    println!("{} cases written to {}", cases.len(), out.display());
}

//! Writes the attack catalogue (tests/attacks/cases/) from the committed test keys:
//! `cargo run --example make_attack_cases --features signing -- tests/attacks/cases`.
//! tests/attacks.rs checks that the committed catalogue is exactly what this produces, and
//! runs every case, including ones added by hand.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tests/attacks/cases"));
    let cases = common::attack_gen::cases(
        common::attack_gen::load_keys(&root.join("tests/attacks/keys")),
        common::attack_gen::load_ml_keys(&root.join("tests/attacks/keys")),
        &root.join("tests/data"),
    );
    common::attack_gen::write(&cases, &out);
    println!("{} cases written to {}", cases.len(), out.display());
}

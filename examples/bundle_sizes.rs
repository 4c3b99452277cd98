//! Bundle and PAE sizes for format v1, hybrid v2, and hybrid v2 at the limits, and how many
//! ML-DSA-65 signatures fit a hybrid bundle inline in a 32 KB AWS IoT job document.
//!
//! `cargo run --release --example bundle_sizes --features signing` (BENCHMARKS.md,
//! docs/aws-iot-jobs.md). Sizes are exact byte counts of what the crate writes.

#[path = "../tests/common/mod.rs"]
mod common;

use core::time::Duration;

use aws_iot_roots::bundle::{
    Algorithm, Bundle, BundleBuilder, Limits, SignerGroup, SignerSet, SigningKey,
};
use aws_iot_roots::jobs::MAX_JOB_DOCUMENT_BYTES;
use base64::Engine as _;
use rustls_pki_types::UnixTime;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn keys(algorithm: Algorithm, n: usize) -> Vec<SigningKey> {
    (0..n)
        .map(|_| SigningKey::generate_with(algorithm))
        .collect()
}

fn group(keys: &[SigningKey], threshold: u32) -> SignerGroup {
    let algorithm = keys[0].algorithm();
    SignerGroup::new(
        algorithm,
        keys.iter().map(SigningKey::public_key).collect(),
        threshold,
    )
    .expect("group")
}

/// The job document `iot-roots` and docs/aws-iot-jobs.md make for a bundle file.
fn job_document_len(bundle: &[u8]) -> usize {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bundle);
    format!("{{\"operation\":\"aws-iot-roots.update\",\"bundle\":\"{b64}\"}}").len()
}

fn amazon_bundle(set: SignerSet) -> Bundle {
    let mut b = BundleBuilder::new("acme-prod", 2, at(1_798_761_600), at(1_830_297_600), set);
    // AWS IoT's five roots (the default features).
    for r in aws_iot_roots::ROOTS.iter().take(5) {
        b = b.root(r.der.clone(), Some(r.name.into()));
    }
    b.build(&Limits::default()).expect("bundle")
}

fn row(what: &str, bundle: &Bundle) {
    let bytes = bundle.to_bytes();
    println!(
        "| {what} | {} | {} | {} |",
        bytes.len(),
        bundle.pae().len(),
        job_document_len(&bytes)
    );
}

fn main() {
    let ed = keys(Algorithm::Ed25519, 3);
    let ml = keys(Algorithm::MlDsa65, 3);
    println!(
        "| bundle (5 Amazon roots unless said) | file bytes | PAE bytes | job document bytes |"
    );
    println!("|---|---|---|---|");

    let v1_set = SignerSet::from_groups(vec![group(&ed, 2)]).expect("set");
    let mut v1 = amazon_bundle(v1_set);
    v1.sign(&ed[0]).expect("sign");
    v1.sign(&ed[1]).expect("sign");
    row("v1, 2-of-3 Ed25519, 2 signatures", &v1);

    let hybrid = SignerSet::from_groups(vec![group(&ed, 2), group(&ml, 2)]).expect("set");
    let mut h = amazon_bundle(hybrid.clone());
    for k in [&ed[0], &ed[1], &ml[0], &ml[1]] {
        h.sign(k).expect("sign");
    }
    row(
        "v2 hybrid, 2-of-3 Ed25519 + 2-of-3 ML-DSA-65, 4 signatures",
        &h,
    );
    let one = SignerSet::from_groups(vec![group(&ed, 2), group(&ml, 1)]).expect("set");
    let mut h1 = amazon_bundle(one);
    for k in [&ed[0], &ed[1], &ml[0]] {
        h1.sign(k).expect("sign");
    }
    row(
        "v2 hybrid, 2-of-3 Ed25519 + 1-of-3 ML-DSA-65, 3 signatures",
        &h1,
    );
    let mut h3 = h.clone();
    h3.sign(&ml[2]).expect("sign");
    row("the 2 + 2 hybrid with a third ML-DSA-65 signature", &h3);

    // At the limits: 16 roots with 64-byte names, a 64-byte fleet id, 8 keys in three
    // groups (3 Ed25519, 3 ML-DSA-65, 2 ML-DSA-87), every key signing.
    let ml87 = keys(Algorithm::MlDsa87, 2);
    let ml3 = keys(Algorithm::MlDsa65, 3);
    let set =
        SignerSet::from_groups(vec![group(&ed, 3), group(&ml3, 3), group(&ml87, 2)]).expect("set");
    let b = common::bundles::largest_builder(set);
    let mut at_limits = b.build(&Limits::default()).expect("within limits");
    for k in ed.iter().chain(&ml3).chain(&ml87) {
        at_limits.sign(k).expect("sign");
    }
    row(
        "v2 at the limits: 16 roots, 8 keys in 3 groups, 8 signatures",
        &at_limits,
    );

    // How many ML-DSA-65 signatures a hybrid bundle of the 5 roots (3 + 3 keys carried)
    // carries inline, beside two Ed25519 ones, before the job document passes 32 KB.
    let set = SignerSet::from_groups(vec![group(&ed, 2), group(&ml, 1)]).expect("set");
    let mut b = amazon_bundle(set);
    b.sign(&ed[0]).expect("sign");
    b.sign(&ed[1]).expect("sign");
    let mut fit = 0;
    for k in &ml {
        b.sign(k).expect("sign");
        if job_document_len(&b.to_bytes()) > MAX_JOB_DOCUMENT_BYTES {
            break;
        }
        fit += 1;
    }
    println!();
    println!(
        "inline in a {MAX_JOB_DOCUMENT_BYTES}-byte job document (5 roots, 2 Ed25519 \
         signatures, 3 + 3 keys carried): at most {fit} ML-DSA-65 signature(s)"
    );
}

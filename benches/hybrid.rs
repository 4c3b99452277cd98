//! Format v2: a hybrid bundle's verification against its floor, and ML-DSA-65 against
//! Ed25519, measured in the same run. See BENCHMARKS.md.
//!
//! `cargo bench --bench hybrid --features signing,starfield-class-2`

use std::time::Duration;

use aws_iot_roots::bundle::{
    verify, Algorithm, BundleBuilder, Limits, Policy, PublicKey, SignerGroup, SignerSet,
    SigningKey, TrustState,
};
use criterion::{criterion_group, criterion_main, Criterion};
use der::Decode;
use rustls_pki_types::UnixTime;
use sha2::{Digest, Sha256};
use std::hint::black_box;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn group(keys: &[SigningKey], algorithm: Algorithm) -> SignerGroup {
    SignerGroup::new(
        algorithm,
        keys.iter().map(SigningKey::public_key).collect(),
        2,
    )
    .expect("group")
}

fn bench_hybrid(c: &mut Criterion) {
    let ed: Vec<SigningKey> = (0..3).map(|_| SigningKey::generate()).collect();
    let ml: Vec<SigningKey> = (0..3)
        .map(|_| SigningKey::generate_with(Algorithm::MlDsa65))
        .collect();
    let set = SignerSet::from_groups(vec![
        group(&ed, Algorithm::Ed25519),
        group(&ml, Algorithm::MlDsa65),
    ])
    .expect("set");
    let mut b = BundleBuilder::new(
        "bench",
        2,
        at(1_798_761_600),
        at(1_830_297_600),
        set.clone(),
    );
    let certs: Vec<_> = aws_iot_roots::ROOTS.iter().map(|r| r.der.clone()).collect();
    for cert in &certs {
        b = b.root(cert.clone(), None);
    }
    let mut bundle = b.build(&Limits::default()).expect("bundle");
    for k in [&ed[0], &ed[1], &ml[0], &ml[1]] {
        bundle.sign(k).expect("sign");
    }
    let bytes = bundle.to_bytes();
    let mut state = TrustState::initial("bench", set);
    state.version = 1;
    state.time_floor = at(1_798_000_000);
    let policy = Policy::default();
    let id = format!("{} roots, 2+2 sigs", certs.len());

    let mut g = c.benchmark_group("hybrid_verify");
    g.bench_function(format!("verify/{id}"), |b| {
        b.iter(|| verify(black_box(&bytes), &state, at(1_798_848_000), &policy).expect("valid"))
    });
    // The floor: the four signature checks with keys already decoded (as the device holds
    // them), plus SHA-256 and an X.509 parse of each root.
    let pae = bundle.pae();
    let signed: Vec<(PublicKey, Vec<u8>)> = [&ed[0], &ed[1], &ml[0], &ml[1]]
        .iter()
        .map(|k| (k.public_key(), k.sign(&pae)))
        .collect();
    g.bench_function(format!("floor/{id}"), |b| {
        b.iter(|| {
            for (key, sig) in &signed {
                assert!(key.verifies(black_box(&pae), sig));
            }
            for cert in &certs {
                black_box(Sha256::digest(cert));
                black_box(x509_cert::Certificate::from_der(cert).expect("x509"));
            }
        })
    });
    g.finish();

    // One signature check each, same message (the PAE above), keys decoded once.
    let mut g = c.benchmark_group("signature_verify");
    let (ed_key, ed_sig) = &signed[0];
    let (ml_key, ml_sig) = &signed[2];
    g.bench_function("ed25519 verify_strict", |b| {
        b.iter(|| assert!(ed_key.verifies(black_box(&pae), ed_sig)))
    });
    g.bench_function("ml-dsa-65 verify", |b| {
        b.iter(|| assert!(ml_key.verifies(black_box(&pae), ml_sig)))
    });
    // Decoding a key (what a rotation pays once per joining key).
    let ml_bytes = ml_key.as_bytes().to_vec();
    let ed_bytes = ed_key.as_bytes().to_vec();
    g.bench_function("ed25519 key decode", |b| {
        b.iter(|| PublicKey::from_encoded(Algorithm::Ed25519, black_box(&ed_bytes)).expect("key"))
    });
    g.bench_function("ml-dsa-65 key decode", |b| {
        b.iter(|| PublicKey::from_encoded(Algorithm::MlDsa65, black_box(&ml_bytes)).expect("key"))
    });
    g.finish();
}

criterion_group!(benches, bench_hybrid);
criterion_main!(benches);

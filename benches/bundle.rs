//! Bundle verification against a floor measured in the same run: the Ed25519 `verify_strict`
//! calls, plus SHA-256 and an X.509 parse (x509-cert) of each root. See BENCHMARKS.md.

use std::time::Duration;

use aws_iot_roots::bundle::{
    verify, BundleBuilder, Limits, Policy, SignerSet, SigningKey, TrustState,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use der::Decode;
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use std::hint::black_box;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn roots(n: usize) -> Vec<CertificateDer<'static>> {
    // Real roots first (RSA and ECDSA, as a fleet has them), then generated P-256 CAs.
    let mut out: Vec<CertificateDer<'static>> =
        aws_iot_roots::ROOTS.iter().map(|r| r.der.clone()).collect();
    out.truncate(n);
    while out.len() < n {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("bench root {}", out.len()),
        );
        out.push(p.self_signed(&key).expect("cert").der().clone());
    }
    out
}

fn bench_verify(c: &mut Criterion) {
    let mut limits = Limits::default();
    limits.max_roots = 256;
    limits.max_payload_bytes = 64 * 1024;
    limits.max_bundle_bytes = 1 << 20;
    let mut policy = Policy::default();
    policy.limits = limits;
    let mut g = c.benchmark_group("bundle_verify");
    for n_roots in [1usize, 6, 64, 256] {
        let certs = roots(n_roots);
        for n_sigs in [1usize, 3, 5] {
            let keys: Vec<SigningKey> = (0..n_sigs).map(|_| SigningKey::generate()).collect();
            let set = SignerSet::new(
                keys.iter().map(SigningKey::public_key).collect(),
                n_sigs as u32,
            )
            .expect("set");
            let mut b = BundleBuilder::new(
                "bench",
                2,
                at(1_798_761_600),
                at(1_830_297_600),
                set.clone(),
            );
            for cert in &certs {
                b = b.root(cert.clone(), None);
            }
            let mut bundle = b.build(&limits).expect("bundle");
            for k in &keys {
                bundle.sign(k).expect("sign");
            }
            let bytes = bundle.to_bytes();
            let mut state = TrustState::initial("bench", set);
            state.version = 1;
            state.time_floor = at(1_798_000_000);
            let id = format!("{n_roots} roots, {n_sigs} sigs");
            g.bench_with_input(BenchmarkId::new("verify", &id), &bytes, |b, bytes| {
                b.iter(|| {
                    verify(black_box(bytes), &state, at(1_798_848_000), &policy).expect("valid")
                })
            });
            // The floor: the signature checks, plus SHA-256 and an X.509 parse of each root.
            let pae = bundle.pae();
            let vks: Vec<ed25519_dalek::VerifyingKey> = keys
                .iter()
                .map(|k| {
                    let raw: [u8; 32] = k.public_key().as_bytes().try_into().expect("32 bytes");
                    ed25519_dalek::VerifyingKey::from_bytes(&raw).expect("vk")
                })
                .collect();
            let sigs: Vec<ed25519_dalek::Signature> = keys
                .iter()
                .map(|k| ed25519_dalek::Signature::from_slice(&k.sign(&pae)).expect("64 bytes"))
                .collect();
            g.bench_with_input(BenchmarkId::new("floor", &id), &certs, |b, certs| {
                b.iter(|| {
                    for (vk, sig) in vks.iter().zip(&sigs) {
                        vk.verify_strict(black_box(&pae), sig).expect("sig");
                    }
                    for cert in certs {
                        black_box(Sha256::digest(cert));
                        black_box(x509_cert::Certificate::from_der(cert).expect("x509"));
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);

//! Building a rustls root store: ours against webpki-roots and against parsing PEM at run
//! time, measured in the same run. See BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::hint::black_box;

fn store_construction(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_construction");
    g.bench_function("aws_iot_roots::root_cert_store (5 anchors)", |b| {
        b.iter(|| black_box(aws_iot_roots::root_cert_store()))
    });
    g.bench_function("webpki_roots TLS_SERVER_ROOTS.to_vec (all anchors)", |b| {
        b.iter(|| {
            black_box(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        })
    });
    let n = aws_iot_roots::TLS_SERVER_ROOTS.len();
    g.bench_function("webpki_roots first 5 anchors .to_vec", |b| {
        b.iter(|| {
            black_box(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS[..n].to_vec(),
            })
        })
    });
    g.bench_function("parse PEM_BUNDLE at run time (5 certificates)", |b| {
        b.iter(|| {
            let mut store = RootCertStore::empty();
            let certs =
                CertificateDer::pem_slice_iter(black_box(aws_iot_roots::PEM_BUNDLE.as_bytes()))
                    .map(|c| c.expect("pem"));
            let (added, ignored) = store.add_parsable_certificates(certs);
            assert_eq!((added, ignored), (n, 0));
            black_box(store)
        })
    });
    g.bench_function(
        "rustls-native-certs: load the system store (Debian ca-certificates)",
        |b| {
            b.iter(|| {
                let certs = rustls_native_certs::load_native_certs();
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(certs.certs);
                black_box(store)
            })
        },
    );
    g.finish();
}

/// The real AWS IoT endpoint chain (tests/data) through rustls' verifier: our 5-anchor store
/// against webpki-roots' full store, at a fixed time inside the leaf's validity.
fn server_cert_verification(c: &mut Criterion) {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::client::WebPkiServerVerifier;
    use rustls_pki_types::{ServerName, UnixTime};

    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem"
    ))
    .expect("chain");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.expect("pem"))
        .collect();
    let name = ServerName::try_from("a1b2c3-ats.iot.eu-central-1.amazonaws.com").expect("name");
    // 2026-01-15T00:00:00Z
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_768_435_200));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = |store: RootCertStore| {
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
            .build()
            .expect("verifier")
    };
    let ours = verifier(aws_iot_roots::root_cert_store());
    let peer = verifier(RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    });
    let mut g = c.benchmark_group("server_cert_verification");
    g.bench_function("aws-iot-roots store (5 anchors)", |b| {
        b.iter(|| {
            ours.verify_server_cert(&chain[0], &chain[1..], &name, &[], now)
                .expect("verifies")
        })
    });
    g.bench_function("webpki-roots store (all anchors)", |b| {
        b.iter(|| {
            peer.verify_server_cert(&chain[0], &chain[1..], &name, &[], now)
                .expect("verifies")
        })
    });
    g.finish();
}

criterion_group!(benches, store_construction, server_cert_verification);
criterion_main!(benches);

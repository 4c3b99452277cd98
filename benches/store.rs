//! Building a rustls root store: ours against webpki-roots and against parsing PEM at run
//! time, measured in the same run. See BENCHMARKS.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

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
    g.finish();
}

criterion_group!(benches, store_construction);
criterion_main!(benches);

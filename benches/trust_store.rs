//! The trust store on a real directory (with fsync): open (load + re-verify) and
//! stage + health check + commit of a 6-root bundle, each against a floor measured in the
//! same run. See BENCHMARKS.md.

use std::time::Duration;

use aws_iot_roots::bundle::{
    verify, BundleBuilder, Limits, Policy, SignerSet, SigningKey, TrustState,
};
use aws_iot_roots::store::{StoreConfig, TrustStore};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use std::hint::black_box;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// The five default roots and one generated CA.
fn six_roots() -> Vec<CertificateDer<'static>> {
    let mut roots: Vec<_> = aws_iot_roots::ROOTS
        .iter()
        .map(|r| r.der.clone())
        .take(5)
        .collect();
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    roots.push(p.self_signed(&key).expect("ca").der().clone());
    roots.truncate(6);
    roots
}

fn bundle(key: &SigningKey, set: &SignerSet, roots: &[CertificateDer<'static>], v: u64) -> Vec<u8> {
    let mut b = BundleBuilder::new(
        "bench",
        v,
        at(1_798_761_600),
        at(1_830_297_600),
        set.clone(),
    );
    for r in roots {
        b = b.root(r.clone(), None);
    }
    let mut bundle = b.build(&Limits::default()).expect("bundle");
    bundle.sign(key).expect("sign");
    bundle.to_bytes()
}

fn pass(_: &[TrustAnchor<'static>]) -> Result<(), aws_iot_roots::store::HealthCheckError> {
    Ok(())
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate();
    let set = SignerSet::new(vec![key.public_key()], 1).expect("set");
    let roots = six_roots();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let config = StoreConfig::new("bench", set.clone());
    let now = at(1_798_848_000);
    {
        let mut store = TrustStore::open(dir.path(), config.clone()).expect("open");
        store
            .apply(&bundle(&key, &set, &roots, 1), now, &mut pass)
            .expect("apply");
    }
    let mut g = c.benchmark_group("trust_store");
    g.bench_function("open (lock, load, re-verify 6-root bundle)", |b| {
        b.iter(|| black_box(TrustStore::open(dir.path(), config.clone()).expect("open")))
    });
    let one = bundle(&key, &set, &roots, 1);
    let mut state = TrustState::initial("bench", set.clone());
    state.time_floor = at(1_798_000_000);
    g.bench_function("floor: bundle::verify of the same bundle", |b| {
        b.iter(|| black_box(verify(&one, &state, now, &Policy::default()).expect("verify")))
    });

    let mut store = TrustStore::open(dir.path(), config.clone()).expect("open");
    let mut v = 1;
    g.bench_function("stage + health check + commit (fsync)", |b| {
        b.iter_batched(
            || {
                v += 1;
                bundle(&key, &set, &roots, v)
            },
            |bytes| store.apply(&bytes, now, &mut pass).expect("apply"),
            BatchSize::PerIteration,
        )
    });
    drop(store);
    // The floor: verifying the bundle, plus the durable writes the update needs at minimum
    // (staged record, its health-check updates, the generation), done as
    // write + fsync + rename + fsync(dir) each.
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let payload = vec![b'x'; one.len() * 4 / 3];
    g.bench_function(
        "floor: verify + 4 durable writes of the bundle's size",
        |b| {
            b.iter(|| {
                black_box(verify(&one, &state, now, &Policy::default()).expect("verify"));
                for name in ["staged.json", "staged.json", "staged.json", "gen.json"] {
                    let tmp = scratch.path().join("x.tmp");
                    std::fs::write(&tmp, &payload).expect("write");
                    std::fs::File::open(&tmp)
                        .expect("open")
                        .sync_all()
                        .expect("fsync");
                    std::fs::rename(&tmp, scratch.path().join(name)).expect("rename");
                    std::fs::File::open(scratch.path())
                        .expect("dir")
                        .sync_all()
                        .expect("fsync dir");
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

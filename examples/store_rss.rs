//! Peak resident memory of a process holding an open trust store with a bundle of the
//! compiled-in roots (5 by default),
//! against the same process without it. Linux (/proc). Run:
//! `cargo run --release --example store_rss --features store,signing`
//! (prints both figures; see BENCHMARKS.md).

use std::time::Duration;

use aws_iot_roots::bundle::{BundleBuilder, Limits, SignerSet, SigningKey};
use aws_iot_roots::store::{StoreConfig, TrustStore};
use rustls_pki_types::{TrustAnchor, UnixTime};

fn vm(field: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

fn main() {
    let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
    let hold = std::env::args().nth(1).as_deref() != Some("--baseline");
    let dir = std::env::temp_dir().join(format!("store-rss-{}", std::process::id()));
    let key = SigningKey::generate();
    let set = SignerSet::new(vec![key.public_key()], 1).expect("set");
    let before = vm("VmHWM:");
    if hold {
        let mut b = BundleBuilder::new("rss", 1, at(1_798_761_600), at(1_830_297_600), set.clone());
        for r in aws_iot_roots::ROOTS.iter().take(6) {
            b = b.root(r.der.clone(), None);
        }
        let mut bundle = b.build(&Limits::default()).expect("bundle");
        bundle.sign(&key).expect("sign");
        let bytes = bundle.to_bytes();
        {
            let mut store =
                TrustStore::open(&dir, StoreConfig::new("rss", set.clone())).expect("open");
            store
                .apply(&bytes, at(1_798_848_000), &mut |_: &[TrustAnchor<
                    'static,
                >]| Ok(()))
                .expect("apply");
        }
        // The steady state of an agent: the store open, its anchors in a rustls-ready Vec.
        let store = TrustStore::open(&dir, StoreConfig::new("rss", set)).expect("reopen");
        let anchors = store.anchors();
        println!(
            "holding store: {} anchors; VmHWM {} (before {}), VmRSS {}",
            anchors.len(),
            vm("VmHWM:"),
            before,
            vm("VmRSS:")
        );
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("baseline: VmHWM {}, VmRSS {}", vm("VmHWM:"), vm("VmRSS:"));
    }
}

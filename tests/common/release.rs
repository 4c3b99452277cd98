//! A fleet's release side for trust-store tests: 2-of-3 keys and bundles at any version.
#![allow(dead_code, unreachable_pub)]

use aws_iot_roots::bundle::{BundleBuilder, Limits, SignerSet};
pub use aws_iot_roots::store::NoteKind;
use aws_iot_roots::store::{HealthCheckError, Storage, StoreConfig, TrustStore};
use rustls_pki_types::TrustAnchor;
use sha2::Digest as _;

use crate::common::bundles::{at, root_der, Keys, CLOCK, EXPIRES, FLEET, ISSUED};

/// A fleet's release side: 2-of-3 keys, bundles at any version over any roots.
pub struct Release {
    pub keys: Keys,
}

impl Release {
    pub fn new() -> Self {
        Self { keys: Keys::new(3) }
    }
    pub fn set(&self) -> SignerSet {
        self.keys.set(2)
    }
    pub fn config(&self) -> StoreConfig {
        StoreConfig::new(FLEET, self.set())
    }
    /// Version `v`, issued `v` minutes after ISSUED, over the named roots.
    pub fn bundle(&self, v: u64, roots: &[&str]) -> Vec<u8> {
        let mut b = BundleBuilder::new(FLEET, v, at(ISSUED + v * 60), at(EXPIRES), self.set());
        for r in roots {
            b = b.root(root_der(r).into(), Some((*r).into()));
        }
        let mut bundle = b.build(&Limits::default()).expect("bundle");
        bundle.sign(&self.keys.keys[0]).expect("sign");
        bundle.sign(&self.keys.keys[1]).expect("sign");
        bundle.to_bytes()
    }
}

pub fn pass(_: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
    Ok(())
}

pub fn now() -> rustls_pki_types::UnixTime {
    at(CLOCK)
}

pub const V1: &[&str] = &["Amazon Root CA 1", "Amazon Root CA 3"];
pub const V2: &[&str] = &["Amazon Root CA 3"];

/// A note of `kind` whose text ("file: detail") contains `needle`.
pub fn assert_note(store: &TrustStore<impl Storage>, kind: NoteKind, needle: &str) {
    assert!(
        store
            .notes()
            .iter()
            .any(|n| n.kind == kind && n.to_string().contains(needle)),
        "no {kind:?} note with {needle:?}: {:?}",
        store.notes()
    );
}

/// A sealed state file's JSON (the first line is its SHA-256).
pub fn read_record(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read");
    serde_json::from_str(text.split_once('\n').expect("sealed").1).expect("json")
}

/// Writes `rec` as a sealed state file, with a checksum that matches: what bit rot cannot do
/// and an attacker with write access can.
pub fn write_record(path: &std::path::Path, rec: &serde_json::Value) {
    let body = serde_json::to_vec(rec).expect("json");
    let mut sealed = crate::common::bundles::hex(&sha2::Sha256::digest(&body)).into_bytes();
    sealed.push(b'\n');
    sealed.extend_from_slice(&body);
    std::fs::write(path, sealed).expect("write");
}

/// The active bundle's version.
pub fn version(store: &TrustStore<impl Storage>) -> Option<u64> {
    store.active_bundle().map(|b| b.payload().version)
}

/// The staged bundle's version and attempts, if one is staged.
pub fn staged(store: &TrustStore<impl Storage>) -> Option<(u64, u32)> {
    store.staged().map(|s| (s.version, s.attempts))
}

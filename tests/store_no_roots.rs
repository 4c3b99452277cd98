//! Built without any root feature, a store with nothing committed has nothing to trust, and
//! says so instead of opening with zero anchors. Run by scripts/test-all.sh with
//! `--no-default-features --features store,signing`.
#![cfg(all(
    feature = "store",
    feature = "signing",
    not(any(
        feature = "amazon-root-ca-1",
        feature = "amazon-root-ca-2",
        feature = "amazon-root-ca-3",
        feature = "amazon-root-ca-4",
        feature = "starfield-services-g2",
        feature = "starfield-class-2"
    ))
))]

use aws_iot_roots::bundle::{SignerSet, SigningKey};
use aws_iot_roots::store::{StoreConfig, StoreError, TrustStore};

#[test]
fn no_bundle_and_no_compiled_in_roots_is_an_error_not_an_empty_store() {
    assert!(aws_iot_roots::TLS_SERVER_ROOTS.is_empty());
    let dir = tempfile::tempdir().expect("tmp");
    let set = SignerSet::new(vec![SigningKey::generate().public_key()], 1).expect("set");
    match TrustStore::open(dir.path(), StoreConfig::new("acme-prod", set)) {
        Err(StoreError::NoRoots) => {}
        other => panic!("expected NoRoots, got {other:?}"),
    }
}

//! Turning a root's feature off removes that root from every table and from the PEM bundles.
//! Run under several feature sets by the test command (see README).

mod common;

use aws_iot_roots::{PEM_BUNDLE, PEM_BUNDLE_NUL, ROOTS, TLS_SERVER_ROOTS};
use common::hex;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};

/// (feature, certificate SHA-256 as published, enabled in this build).
fn features() -> [(&'static str, &'static str, bool); 6] {
    [
        (
            "amazon-root-ca-1",
            "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
            cfg!(feature = "amazon-root-ca-1"),
        ),
        (
            "amazon-root-ca-2",
            "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
            cfg!(feature = "amazon-root-ca-2"),
        ),
        (
            "amazon-root-ca-3",
            "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
            cfg!(feature = "amazon-root-ca-3"),
        ),
        (
            "amazon-root-ca-4",
            "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
            cfg!(feature = "amazon-root-ca-4"),
        ),
        (
            "starfield-services-g2",
            "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            cfg!(feature = "starfield-services-g2"),
        ),
        (
            "starfield-class-2",
            "1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658",
            cfg!(feature = "starfield-class-2"),
        ),
    ]
}

fn bundle_hashes(pem: &[u8]) -> Vec<String> {
    CertificateDer::pem_slice_iter(pem)
        .map(|c| hex(&Sha256::digest(c.expect("bundle parses"))))
        .collect()
}

#[test]
fn each_root_is_in_every_table_exactly_when_its_feature_is_on() {
    let bundle = bundle_hashes(PEM_BUNDLE.as_bytes());
    let enabled = features().iter().filter(|f| f.2).count();
    assert_eq!(ROOTS.len(), enabled);
    assert_eq!(TLS_SERVER_ROOTS.len(), enabled);
    assert_eq!(bundle.len(), enabled);
    for (feature, sha, on) in features() {
        let root = ROOTS.iter().find(|r| hex(&r.sha256) == sha);
        assert_eq!(root.is_some(), on, "{feature}: ROOTS");
        assert_eq!(bundle.iter().any(|h| h == sha), on, "{feature}: PEM_BUNDLE");
        if let Some(root) = root {
            assert_eq!(root.feature, feature);
            assert!(
                TLS_SERVER_ROOTS.contains(&root.anchor),
                "{feature}: TLS_SERVER_ROOTS"
            );
        }
    }
}

#[test]
fn nul_terminated_bundle_is_the_pem_bundle_plus_one_nul() {
    let bytes = PEM_BUNDLE_NUL.to_bytes_with_nul();
    assert_eq!(&bytes[..bytes.len() - 1], PEM_BUNDLE.as_bytes());
    assert_eq!(bytes.last(), Some(&0));
    assert_eq!(
        bundle_hashes(PEM_BUNDLE_NUL.to_bytes()),
        bundle_hashes(PEM_BUNDLE.as_bytes())
    );
}

#[test]
fn pem_bundle_holds_only_certificates_in_root_order() {
    let bundle = bundle_hashes(PEM_BUNDLE.as_bytes());
    let roots: Vec<String> = ROOTS.iter().map(|r| hex(&r.sha256)).collect();
    assert_eq!(bundle, roots);
    assert_eq!(PEM_BUNDLE.matches("-----BEGIN ").count(), ROOTS.len());
    assert_eq!(
        PEM_BUNDLE.matches("-----BEGIN CERTIFICATE-----").count(),
        ROOTS.len()
    );
}

#[cfg(feature = "rustls")]
#[test]
fn root_cert_store_holds_exactly_the_enabled_anchors() {
    let store = aws_iot_roots::root_cert_store();
    assert_eq!(store.roots, TLS_SERVER_ROOTS);
}

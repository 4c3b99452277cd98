//! New roots before root programs include them (docs/new-roots.md): a fleet adds a root such
//! as Amazon's "EU" roots for the European Sovereign Cloud by signed bundle, while servers'
//! chains still carry a cross-sign from a root every device already trusts. Test CAs stand in
//! for both: the EU certificates are not in the test data.
#![cfg(all(feature = "store", feature = "signing", feature = "rustls"))]

mod common;

use std::sync::Arc;

use aws_iot_roots::bundle::{BundleBuilder, Limits};
use aws_iot_roots::store::{HealthCheckError, StoreConfig, TrustStore};
use common::bundles::{at, Keys, CLOCK, EXPIRES, FLEET, ISSUED};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, Error, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor};

const HOST: &str = "iot.eusc.test";

/// R1 (standing in for Amazon Root CA 1), the new EU root, EU cross-signed by R1 (same name
/// and key as the EU root, issued by R1), and a server leaf issued by the EU key.
struct Pki {
    r1: CertificateDer<'static>,
    eu_root: CertificateDer<'static>,
    eu_cross: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
}

fn ca_params(cn: &str) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, "aws-iot-roots tests");
    p
}

fn pki() -> Pki {
    let r1 = rcgen::CertifiedIssuer::self_signed(
        ca_params("Test Root 1"),
        rcgen::KeyPair::generate().expect("key"),
    )
    .expect("r1");
    let eu_key = rcgen::KeyPair::generate().expect("key");
    let eu_params = ca_params("Test EU Root");
    let eu_root = eu_params.self_signed(&eu_key).expect("eu root");
    let eu_cross = eu_params.signed_by(&eu_key, &r1).expect("cross-sign");
    let eu = rcgen::Issuer::from_params(&eu_params, &eu_key);
    let leaf = rcgen::CertificateParams::new(vec![HOST.to_owned()])
        .expect("params")
        .signed_by(&rcgen::KeyPair::generate().expect("key"), &eu)
        .expect("leaf");
    Pki {
        r1: r1.der().clone(),
        eu_root: eu_root.der().clone(),
        eu_cross: eu_cross.der().clone(),
        leaf: leaf.der().clone(),
    }
}

fn verify(store: RootCertStore, chain: &[CertificateDer<'static>]) -> Result<(), Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
        .build()
        .expect("verifier");
    let name = ServerName::try_from(HOST).expect("name");
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &name, &[], at(CLOCK))
        .map(|_| ())
}

fn pass(_: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
    Ok(())
}

fn bundle(keys: &Keys, version: u64, roots: &[(&CertificateDer<'static>, &str)]) -> Vec<u8> {
    let mut b = BundleBuilder::new(FLEET, version, at(ISSUED), at(EXPIRES), keys.set(1));
    for (der, name) in roots {
        b = b.root((*der).clone(), Some((*name).into()));
    }
    let mut bundle = b.build(&Limits::default()).expect("bundle");
    bundle.sign(&keys.keys[0]).expect("sign");
    bundle.to_bytes()
}

#[test]
fn a_new_root_is_reached_by_its_cross_sign_until_a_bundle_adds_it() {
    let pki = pki();
    let keys = Keys::new(1);
    let dir = tempfile::tempdir().expect("tmp");
    let mut store =
        TrustStore::open(dir.path(), StoreConfig::new(FLEET, keys.set(1))).expect("open");
    let with_cross = [pki.leaf.clone(), pki.eu_cross.clone()];
    let without = [pki.leaf.clone()];
    let unknown_issuer = Err(Error::InvalidCertificate(CertificateError::UnknownIssuer));

    // 1. The fleet trusts R1 only: the chain that carries the cross-sign verifies, a chain
    //    to the EU root alone does not.
    store
        .apply(
            &bundle(&keys, 1, &[(&pki.r1, "Test Root 1")]),
            at(CLOCK),
            &mut pass,
        )
        .expect("v1");
    assert_eq!(verify(store.root_cert_store(), &with_cross), Ok(()));
    assert_eq!(verify(store.root_cert_store(), &without), unknown_issuer);

    // 2. A bundle adds the EU root beside R1: both chains verify, so servers may drop the
    //    cross-sign at their own pace.
    store
        .apply(
            &bundle(
                &keys,
                2,
                &[(&pki.r1, "Test Root 1"), (&pki.eu_root, "Test EU Root")],
            ),
            at(CLOCK),
            &mut pass,
        )
        .expect("v2");
    assert_eq!(verify(store.root_cert_store(), &with_cross), Ok(()));
    assert_eq!(verify(store.root_cert_store(), &without), Ok(()));

    // 3. Once the EU root is everywhere, a bundle without R1 still reaches both chains: the
    //    EU root anchors the leaf directly, and the cross-sign is never needed.
    store
        .apply(
            &bundle(&keys, 3, &[(&pki.eu_root, "Test EU Root")]),
            at(CLOCK),
            &mut pass,
        )
        .expect("v3");
    assert_eq!(verify(store.root_cert_store(), &with_cross), Ok(()));
    assert_eq!(verify(store.root_cert_store(), &without), Ok(()));
}

/// Why the two meet: a cross-sign has the new root's subject and key and another issuer.
/// webpki anchors by subject and key, so the EU root a bundle adds and the cross-sign a
/// server sends name the same anchor. The fleet ships the self-issued root, not the
/// cross-sign: the cross-sign's lifetime is bounded by its issuer's (R1's removal).
#[test]
fn a_cross_sign_as_an_anchor_is_the_same_subject_and_key_as_the_root() {
    let pki = pki();
    let root = aws_iot_roots::bundle::CertificateInfo::from_der(&pki.eu_root).expect("root");
    let cross = aws_iot_roots::bundle::CertificateInfo::from_der(&pki.eu_cross).expect("cross");
    assert_eq!(root.subject, cross.subject);
    assert_eq!(root.spki_sha256, cross.spki_sha256);
    assert!(root.self_issued && !cross.self_issued);
}

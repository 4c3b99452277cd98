//! Real Amazon chains through rustls' `WebPkiServerVerifier` built from `root_cert_store()`,
//! each at a fixed time inside the leaf's validity (tests/data/aws-chains/README.md).
#![cfg(feature = "rustls")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_iot_roots::{root_cert_store, ROOTS};
use common::{data, load_pem, utc};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, Error, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Inside the demo leaves' validity (2023-05-10 → 2024-06-07).
fn demo_time() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(utc(2023, 12, 1)))
}

/// Inside the IoT endpoint leaf's validity (2025-10-31 → 2026-08-02).
fn iot_time() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(utc(2026, 1, 15)))
}

const ATS_HOST: &str = "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com";

fn verify(
    store: RootCertStore,
    chain: &[CertificateDer<'static>],
    host: &str,
    at: UnixTime,
) -> Result<(), Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
        .build()
        .expect("verifier");
    let name = ServerName::try_from(host.to_owned()).expect("host name");
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &name, &[], at)
        .map(|_| ())
}

fn chain(rel: &str) -> Vec<CertificateDer<'static>> {
    load_pem(&data(rel))
}

fn only(feature: &str) -> RootCertStore {
    let roots: Vec<_> = ROOTS
        .iter()
        .filter(|r| r.feature == feature)
        .map(|r| r.anchor.clone())
        .collect();
    assert_eq!(
        roots.len(),
        1,
        "{feature} must be compiled in for this test"
    );
    RootCertStore { roots }
}

fn assert_unknown_issuer(result: Result<(), Error>) {
    match result {
        Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {}
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
}

#[cfg(feature = "amazon-root-ca-1")]
#[test]
fn demo_site_for_amazon_root_ca_1_verifies() {
    let c = chain("aws-chains/openjdk_amazonca_2023/chain_ca1_valid.pem");
    verify(
        root_cert_store(),
        &c,
        "valid.rootca1.demo.amazontrust.com",
        demo_time(),
    )
    .expect("CA 1");
}

#[cfg(feature = "amazon-root-ca-2")]
#[test]
fn demo_site_for_amazon_root_ca_2_verifies() {
    let c = chain("aws-chains/openjdk_amazonca_2023/chain_ca2_valid.pem");
    verify(
        root_cert_store(),
        &c,
        "valid.rootca2.demo.amazontrust.com",
        demo_time(),
    )
    .expect("CA 2");
}

#[cfg(feature = "amazon-root-ca-3")]
#[test]
fn demo_site_for_amazon_root_ca_3_verifies() {
    let c = chain("aws-chains/openjdk_amazonca_2023/chain_ca3_valid.pem");
    verify(
        root_cert_store(),
        &c,
        "valid.rootca3.demo.amazontrust.com",
        demo_time(),
    )
    .expect("CA 3");
}

#[cfg(feature = "amazon-root-ca-4")]
#[test]
fn demo_site_for_amazon_root_ca_4_verifies() {
    let c = chain("aws-chains/openjdk_amazonca_2023/chain_ca4_valid.pem");
    verify(
        root_cert_store(),
        &c,
        "valid.rootca4.demo.amazontrust.com",
        demo_time(),
    )
    .expect("CA 4");
}

#[cfg(feature = "amazon-root-ca-1")]
#[test]
fn real_aws_iot_endpoint_chain_verifies_for_an_ats_endpoint_name() {
    let c = chain("aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem");
    verify(root_cert_store(), &c, ATS_HOST, iot_time()).expect("AWS IoT ATS endpoint");
}

#[test]
fn legacy_symantec_iot_leaf_fails() {
    let mut c =
        chain("aws-chains/legacy/leaf_star.iot.ap-southeast-2.amazonaws.com_symantec_2017.pem");
    // Even offered the retired VeriSign root as an intermediate, nothing chains to our roots.
    c.extend(chain(
        "aws-chains/legacy/VeriSign_Class3_Public_Primary_CA_G5.pem",
    ));
    let at = UnixTime::since_unix_epoch(Duration::from_secs(utc(2018, 6, 1)));
    assert_unknown_issuer(verify(
        root_cert_store(),
        &c,
        "example.iot.ap-southeast-2.amazonaws.com",
        at,
    ));
}

#[cfg(feature = "amazon-root-ca-1")]
#[test]
fn wrong_host_name_fails() {
    let c = chain("aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem");
    match verify(
        root_cert_store(),
        &c,
        "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
        iot_time(),
    ) {
        Err(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => {}
        other => panic!("expected NotValidForName, got {other:?}"),
    }
}

#[cfg(feature = "amazon-root-ca-1")]
#[test]
fn time_outside_the_leaf_validity_fails() {
    let c = chain("aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem");
    let after = UnixTime::since_unix_epoch(Duration::from_secs(utc(2026, 8, 3)));
    match verify(root_cert_store(), &c, ATS_HOST, after) {
        Err(Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        )) => {}
        other => panic!("expected Expired, got {other:?}"),
    }
    let before = UnixTime::since_unix_epoch(Duration::from_secs(utc(2025, 10, 30)));
    match verify(root_cert_store(), &c, ATS_HOST, before) {
        Err(Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        )) => {}
        other => panic!("expected NotValidYet, got {other:?}"),
    }
}

#[cfg(feature = "starfield-services-g2")]
#[test]
fn starfield_services_g2_alone_verifies_a_chain_that_carries_the_cross_sign() {
    let mut c = chain("aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem");
    c.extend(chain(
        "aws-chains/crosssign/Amazon_Root_CA_1__by__SFS_G2.pem",
    ));
    verify(only("starfield-services-g2"), &c, ATS_HOST, iot_time()).expect("via SFS G2");

    let mut c = chain("aws-chains/openjdk_amazonca_2023/chain_ca3_valid.pem");
    c.extend(chain(
        "aws-chains/crosssign/Amazon_Root_CA_3__by__SFS_G2.pem",
    ));
    verify(
        only("starfield-services-g2"),
        &c,
        "valid.rootca3.demo.amazontrust.com",
        demo_time(),
    )
    .expect("ECDSA chain via SFS G2");
}

#[cfg(feature = "starfield-services-g2")]
#[test]
fn starfield_services_g2_alone_rejects_a_chain_without_the_cross_sign() {
    let c = chain("aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem");
    assert_unknown_issuer(verify(
        only("starfield-services-g2"),
        &c,
        ATS_HOST,
        iot_time(),
    ));
}

#[cfg(feature = "amazon-root-ca-3")]
#[test]
fn amazon_root_ca_3_alone_rejects_the_rsa_chain() {
    // A device trimmed to the ECC root must offer only ECDSA suites: the RSA chain fails.
    let c = chain("aws-chains/iot_eu-central-1_m04_2025/chain_leaf_M04.pem");
    assert_unknown_issuer(verify(only("amazon-root-ca-3"), &c, ATS_HOST, iot_time()));
}

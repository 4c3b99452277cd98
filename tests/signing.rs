//! The signing side: deterministic bundles, sequential signers, keys that keep their secrets.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use aws_iot_roots::bundle::{
    verify, Bundle, BundleBuilder, BundleError, KeyError, Limits, PublicKey, SignerSet, SigningKey,
    Verdict,
};
use common::bundles::*;

fn builder(set: &SignerSet, order: &[&str]) -> BundleBuilder {
    order.iter().fold(
        BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), set.clone()),
        |b, name| b.root(root_der(name).into(), Some((*name).into())),
    )
}

#[test]
fn same_inputs_give_the_same_bytes_whatever_the_root_order() {
    let k = Keys::new(1);
    let a = builder(&k.set(1), &["Amazon Root CA 1", "Amazon Root CA 3"])
        .build(&Limits::default())
        .expect("a");
    let b = builder(&k.set(1), &["Amazon Root CA 3", "Amazon Root CA 1"])
        .build(&Limits::default())
        .expect("b");
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(a.pae(), b.pae());
    // Ed25519 is deterministic: the same key over the same PAE gives the same signature.
    let (mut a, mut b) = (a, b);
    a.sign(&k.keys[0]).expect("sign");
    b.sign(&k.keys[0]).expect("sign");
    assert_eq!(a.to_bytes(), b.to_bytes());
}

#[test]
fn signers_sign_one_after_another_through_the_file() {
    let k = Keys::new(3);
    let set = k.set(2);
    let mut bundle = builder(&set, &["Amazon Root CA 3"])
        .build(&Limits::default())
        .expect("bundle");
    bundle.sign(&k.keys[0]).expect("sign");
    // The second signer receives the file, not the in-memory value.
    let mut reread = Bundle::from_bytes(&bundle.to_bytes(), &Limits::default()).expect("parse");
    assert_eq!(reread.signature_count(), 1);
    reread.sign(&k.keys[2]).expect("sign");
    let v = verify(&reread.to_bytes(), &state(set, 1), at(CLOCK), &policy()).expect("2 of 3");
    assert!(matches!(v, Verdict::Apply(_)));
}

#[test]
fn attach_checks_the_signature_before_attaching() {
    let k = Keys::new(2);
    let mut bundle = builder(&k.set(1), &["Amazon Root CA 3"])
        .build(&Limits::default())
        .expect("bundle");
    let sig = k.keys[0].sign(&bundle.pae());
    assert_eq!(
        bundle.attach(&k.keys[1].public_key(), &sig),
        Err(BundleError::BadSignature)
    );
    assert!(matches!(
        bundle.attach(&k.keys[0].public_key(), &sig[..63]),
        Err(BundleError::Malformed { .. })
    ));
    assert_eq!(bundle.signature_count(), 0, "nothing attached on failure");
    bundle.attach(&k.keys[0].public_key(), &sig).expect("valid");
    assert_eq!(bundle.signature_count(), 1);
}

#[test]
fn builder_refuses_expired_and_non_ca_certificates() {
    let k = Keys::new(1);
    // Amazon Root CA 1 expires 2038-01-17; a bundle issued in 2039 cannot carry it.
    let err = BundleBuilder::new(FLEET, 2, at(2_177_452_800), at(2_208_988_800), k.set(1))
        .root(root_der("Amazon Root CA 1").into(), None)
        .root(root_der("Amazon Root CA 3").into(), None)
        .build(&Limits::default())
        .expect_err("expired root");
    assert!(
        matches!(&err, BundleError::CertificateExpired { sha256, .. } if *sha256 == fp(&root_der("Amazon Root CA 1"))),
        "{err:?}"
    );
    let leaf = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem")).expect("leaf");
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(&leaf).expect("pem");
    let err = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), k.set(1))
        .root(der, None)
        .build(&Limits::default())
        .expect_err("leaf");
    assert!(matches!(err, BundleError::NotCa { .. }), "{err:?}");
    let err = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), k.set(1))
        .build(&Limits::default())
        .expect_err("empty");
    assert_eq!(err, BundleError::NoRoots);
}

#[test]
fn signing_keys_round_trip_pem_and_never_print_their_secret() {
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem().expect("pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = SigningKey::from_pkcs8_pem(&pem).expect("read back");
    assert_eq!(again.public_key(), key.public_key());
    let debug = format!("{key:?}");
    assert!(
        debug.contains("<redacted>") && debug.contains(&key.public_key().to_base64()),
        "{debug}"
    );
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        !debug.contains(&body),
        "Debug must not contain the PKCS#8 body"
    );
    let spki = key.public_key().to_spki_pem().expect("spki");
    assert_eq!(
        PublicKey::from_spki_pem(&spki).expect("spki"),
        key.public_key()
    );
    assert!(matches!(
        SigningKey::from_pkcs8_pem(&spki),
        Err(KeyError::Encoding { .. })
    ));
    assert!(matches!(
        PublicKey::from_spki_pem("not pem"),
        Err(KeyError::Encoding { .. })
    ));
}

#[test]
fn key_id_is_the_sha256_of_the_raw_public_key() {
    let key = SigningKey::generate().public_key();
    assert_eq!(key.key_id(), sha(key.as_bytes()));
}

/// The spec's name rule, as a table: CN, else OU, else O, else the RFC 4514 subject; control
/// characters dropped; cut to 64 bytes on a character boundary.
#[test]
fn root_names_are_derived_from_cn_then_ou_then_o() {
    use aws_iot_roots::bundle::{default_root_name, MAX_ROOT_NAME_BYTES};
    let real = |file: &str| {
        let pem = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("roots")
                .join(file),
        )
        .expect("root");
        let der: rustls_pki_types::CertificateDer<'static> =
            rustls_pki_types::pem::PemObject::from_pem_slice(&pem).expect("pem");
        default_root_name(&der).expect("name")
    };
    assert_eq!(real("Amazon_Root_CA_1.pem"), "Amazon Root CA 1");
    assert_eq!(
        real("Starfield_Class_2_CA.pem"),
        "Starfield Class 2 Certification Authority"
    );
    assert_eq!(
        real("Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
        "Starfield Services Root Certificate Authority - G2"
    );
    let made = |attrs: &[(rcgen::DnType, &str)]| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in attrs {
            p.distinguished_name.push(t.clone(), *v);
        }
        default_root_name(p.self_signed(&key).expect("cert").der()).expect("name")
    };
    use rcgen::DnType::{CommonName, CountryName, OrganizationName, OrganizationalUnitName};
    assert_eq!(
        made(&[(OrganizationName, "Acme"), (OrganizationalUnitName, "PKI")]),
        "PKI"
    );
    assert_eq!(
        made(&[(CountryName, "US"), (OrganizationName, "Acme")]),
        "Acme"
    );
    assert_eq!(made(&[(CountryName, "US")]), "C=US");
    assert_eq!(made(&[(CommonName, "a\u{7}b")]), "ab");
    // 40 two-byte characters are 80 bytes: cut to 32 characters, never inside one.
    let long = "é".repeat(40);
    let name = made(&[(CommonName, &long)]);
    assert_eq!(name, "é".repeat(32));
    assert!(name.len() <= MAX_ROOT_NAME_BYTES);
}

/// A limit is named in the spec's words, never by its Rust variant (issue 12 saw
/// `RootNameBytes` in a refusal).
#[test]
fn a_name_over_the_limit_is_refused_in_words() {
    let k = Keys::new(1);
    let long = "x".repeat(83);
    let err = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), k.set(1))
        .root(root_der("Amazon Root CA 1").into(), Some(long))
        .build(&Limits::default())
        .expect_err("83 bytes");
    assert_eq!(
        err.to_string(),
        "too large: a root name is 83 bytes; the limit is 64"
    );
}

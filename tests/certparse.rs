//! src/certparse.rs (the reader build.rs and the bundle verifier share) agrees with x509-cert
//! on every real certificate in the test data and in roots/.

// As in build.rs: hex.rs is written against `alloc`.
extern crate alloc;

#[allow(dead_code, unreachable_pub)]
#[path = "../src/certparse.rs"]
mod certparse;
mod common;
#[allow(dead_code, unreachable_pub)]
#[path = "../src/hex.rs"]
mod hex;
#[allow(dead_code, unreachable_pub)]
#[path = "../src/key.rs"]
mod key;

use std::path::{Path, PathBuf};

use der::oid::AssociatedOid;
use der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;

fn pem_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            pem_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "pem") {
            out.push(p);
        }
    }
}

#[test]
fn agrees_with_x509_cert_on_every_real_certificate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    pem_files(&root.join("roots"), &mut files);
    pem_files(&root.join("tests/data"), &mut files);
    let mut checked = 0;
    for file in &files {
        for der in common::load_pem(file) {
            let ours = certparse::parse(&der).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let theirs = x509_cert::Certificate::from_der(&der).expect("x509-cert");
            let tbs = theirs.tbs_certificate();
            let at = file.display();
            assert_eq!(
                ours.subject,
                tbs.subject().to_der().expect("der").as_slice(),
                "{at}"
            );
            assert_eq!(
                ours.issuer,
                tbs.issuer().to_der().expect("der").as_slice(),
                "{at}"
            );
            assert_eq!(
                ours.spki,
                tbs.subject_public_key_info()
                    .to_der()
                    .expect("der")
                    .as_slice(),
                "{at}"
            );
            assert_eq!(
                ours.not_before,
                tbs.validity().not_before.to_unix_duration().as_secs(),
                "{at}"
            );
            assert_eq!(
                ours.not_after,
                tbs.validity().not_after.to_unix_duration().as_secs(),
                "{at}"
            );
            let bc = tbs
                .extensions()
                .into_iter()
                .flatten()
                .find(|e| e.extn_id == BasicConstraints::OID);
            let ca = bc.map(|e| {
                BasicConstraints::from_der(e.extn_value.as_bytes())
                    .expect("bc")
                    .ca
            });
            assert_eq!(ours.basic_constraints_ca, ca, "{at}");
            assert_eq!(ours.is_self_issued(), tbs.subject() == tbs.issuer(), "{at}");
            // TrustAnchor framing: the contents of the subject and SPKI, without tag and length.
            let anchor = webpki::anchor_from_trusted_cert(&der).expect("webpki");
            assert_eq!(ours.subject_contents(), anchor.subject.as_ref(), "{at}");
            assert_eq!(
                ours.spki_contents(),
                anchor.subject_public_key_info.as_ref(),
                "{at}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} certificates checked");
}

#[test]
fn rejects_truncated_and_trailing_data() {
    let der =
        common::load_pem(&Path::new(env!("CARGO_MANIFEST_DIR")).join("roots/Amazon_Root_CA_3.pem"))
            .remove(0);
    for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
        assert!(certparse::parse(&der[..cut]).is_err(), "truncated at {cut}");
    }
    let mut trailing = der.to_vec();
    trailing.push(0);
    assert!(certparse::parse(&trailing).is_err(), "trailing byte");
}

#[test]
fn reads_serial_zero_roots() {
    // Both Starfield roots have serial number 0 (shared/NOTES.md §1).
    for f in [
        "Starfield_Services_Root_Certificate_Authority_-_G2.pem",
        "Starfield_Class_2_CA.pem",
    ] {
        let der = common::load_pem(&Path::new(env!("CARGO_MANIFEST_DIR")).join("roots").join(f))
            .remove(0);
        let facts = certparse::parse(&der).expect(f);
        assert_eq!(facts.basic_constraints_ca, Some(true), "{f}");
    }
}

/// Issue 11, item 3: each key has exactly one encoding the parser calls usable; any other
/// spelling of the same key reads as no known key (so rustls never gets it, and two spellings
/// never pass as two keys).
#[test]
fn only_the_encoding_rustls_uses_is_a_known_key() {
    use key::KeyAlgorithm;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("roots");
    let ca3 = common::load_pem(&root.join("Amazon_Root_CA_3.pem")).remove(0);
    let ca1 = common::load_pem(&root.join("Amazon_Root_CA_1.pem")).remove(0);
    assert_eq!(
        certparse::parse(&ca3).expect("CA 3").key,
        Some(KeyAlgorithm::EcdsaP256)
    );
    assert_eq!(
        certparse::parse(&ca1).expect("CA 1").key,
        Some(KeyAlgorithm::Rsa { bits: 2048 })
    );
    for (der, label) in [
        (
            common::compressed_point_twin(&ca3),
            "compressed P-256 point",
        ),
        (common::unreduced_p256_coordinate(&ca3), "unreduced P-256 X"),
        (
            common::rsa_without_null_parameters(&ca1),
            "RSA, parameters absent",
        ),
    ] {
        let facts = certparse::parse(&der).expect(label);
        assert_eq!(facts.key, None, "{label}");
    }
    // Ed25519 takes no parameters (RFC 8410 §3): with NULL parameters it is not a known key.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ed = params.self_signed(&key).expect("cert").der().to_vec();
    assert_eq!(
        certparse::parse(&ed).expect("Ed25519").key,
        Some(KeyAlgorithm::Ed25519)
    );
    let with_null = common::with_spki(&ed, |spki| {
        spki.algorithm.parameters = Some(der::asn1::Null.into());
    });
    assert_eq!(
        certparse::parse(&with_null).expect("Ed25519 + NULL").key,
        None
    );
}

//! src/certparse.rs (the reader build.rs and the bundle verifier share) agrees with x509-cert
//! on every real certificate in the test data and in roots/.

#[allow(dead_code, unreachable_pub)]
#[path = "../src/certparse.rs"]
mod certparse;
mod common;
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
            let tbs = &theirs.tbs_certificate;
            let at = file.display();
            assert_eq!(
                ours.subject,
                tbs.subject.to_der().expect("der").as_slice(),
                "{at}"
            );
            assert_eq!(
                ours.issuer,
                tbs.issuer.to_der().expect("der").as_slice(),
                "{at}"
            );
            assert_eq!(
                ours.spki,
                tbs.subject_public_key_info
                    .to_der()
                    .expect("der")
                    .as_slice(),
                "{at}"
            );
            assert_eq!(
                ours.not_before,
                tbs.validity.not_before.to_unix_duration().as_secs(),
                "{at}"
            );
            assert_eq!(
                ours.not_after,
                tbs.validity.not_after.to_unix_duration().as_secs(),
                "{at}"
            );
            let bc = tbs
                .extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == BasicConstraints::OID);
            let ca = bc.map(|e| {
                BasicConstraints::from_der(e.extn_value.as_bytes())
                    .expect("bc")
                    .ca
            });
            assert_eq!(ours.basic_constraints_ca, ca, "{at}");
            assert_eq!(ours.is_self_issued(), tbs.subject == tbs.issuer, "{at}");
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

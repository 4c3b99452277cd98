//! The compiled-in roots are the published ones, framed exactly as rustls-webpki frames them.

mod common;

use aws_iot_roots::{KeyAlgorithm, ROOTS, TLS_SERVER_ROOTS};
use common::{hex, utc};
use sha2::{Digest, Sha256};

struct Published {
    name: &'static str,
    sha256: &'static str,
    spki_sha256: &'static str,
    key: KeyAlgorithm,
    not_after: (i64, i64, i64),
}

/// Written in from shared/NOTES.md (Amazon Trust Services' published values), never computed
/// by the code under test.
const PUBLISHED: &[Published] = &[
    Published {
        name: "Amazon Root CA 1",
        sha256: "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
        spki_sha256: "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2",
        key: KeyAlgorithm::Rsa { bits: 2048 },
        not_after: (2038, 1, 17),
    },
    Published {
        name: "Amazon Root CA 2",
        sha256: "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
        spki_sha256: "7f4296fc5b6a4e3b35d3c369623e364ab1af381d8fa7121533c9d6c633ea2461",
        key: KeyAlgorithm::Rsa { bits: 4096 },
        not_after: (2040, 5, 26),
    },
    Published {
        name: "Amazon Root CA 3",
        sha256: "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
        spki_sha256: "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9",
        key: KeyAlgorithm::EcdsaP256,
        not_after: (2040, 5, 26),
    },
    Published {
        name: "Amazon Root CA 4",
        sha256: "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
        spki_sha256: "f7ecded5c66047d28ed6466b543c40e0743abe81d109254dcf845d4c2c7853c5",
        key: KeyAlgorithm::EcdsaP384,
        not_after: (2040, 5, 26),
    },
    Published {
        name: "Starfield Services Root Certificate Authority - G2",
        sha256: "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
        spki_sha256: "2b071c59a0a0ae76b0eadb2bad23bad4580b69c3601b630c2eaf0613afa83f92",
        key: KeyAlgorithm::Rsa { bits: 2048 },
        // 2037-12-31T23:59:59Z: checked to the second below.
        not_after: (2038, 1, 1),
    },
    Published {
        name: "Starfield Class 2 Certification Authority",
        sha256: "1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658",
        spki_sha256: "15f14ac45c9c7da233d3479164e8137fe35ee0f38ae858183f08410ea82ac4b4",
        key: KeyAlgorithm::Rsa { bits: 2048 },
        not_after: (2034, 6, 30),
    },
];

fn published(name: &str) -> &'static Published {
    PUBLISHED
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is not a published root"))
}

#[test]
fn every_anchor_equals_webpki_anchor_from_trusted_cert() {
    assert_eq!(ROOTS.len(), TLS_SERVER_ROOTS.len());
    for (root, anchor) in ROOTS.iter().zip(TLS_SERVER_ROOTS) {
        let expected = webpki::anchor_from_trusted_cert(&root.der).expect(root.name);
        assert_eq!(
            expected.subject.as_ref(),
            anchor.subject.as_ref(),
            "{}: subject",
            root.name
        );
        assert_eq!(
            expected.subject_public_key_info.as_ref(),
            anchor.subject_public_key_info.as_ref(),
            "{}: spki",
            root.name
        );
        assert_eq!(
            expected.name_constraints, anchor.name_constraints,
            "{}",
            root.name
        );
        assert_eq!(
            &root.anchor, anchor,
            "{}: Root.anchor and TLS_SERVER_ROOTS differ",
            root.name
        );
    }
}

#[test]
fn certificate_and_spki_fingerprints_equal_the_published_values() {
    for root in ROOTS {
        let p = published(root.name);
        assert_eq!(
            hex(&root.sha256),
            p.sha256,
            "{}: certificate SHA-256",
            root.name
        );
        assert_eq!(
            hex(&Sha256::digest(&root.der)),
            p.sha256,
            "{}: DER on disk",
            root.name
        );
        assert_eq!(
            hex(&root.spki_sha256),
            p.spki_sha256,
            "{}: SPKI SHA-256",
            root.name
        );
    }
}

/// webpki-roots#38 / rustls#1289: the anchor holds the SPKI *contents*; hashing them gives no
/// published pin. Re-wrapped in their SEQUENCE they must give exactly the published one.
#[test]
fn anchor_spki_rewrapped_hashes_to_the_published_pin() {
    for root in ROOTS {
        let contents = root.anchor.subject_public_key_info.as_ref();
        let mut wrapped = vec![0x30];
        let len = contents.len();
        match len {
            0..=0x7f => wrapped.push(len as u8),
            0x80..=0xff => wrapped.extend([0x81, len as u8]),
            _ => wrapped.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        wrapped.extend_from_slice(contents);
        let p = published(root.name);
        assert_eq!(
            hex(&Sha256::digest(&wrapped)),
            p.spki_sha256,
            "{}",
            root.name
        );
        assert_ne!(
            hex(&Sha256::digest(contents)),
            p.spki_sha256,
            "{}",
            root.name
        );
    }
}

#[test]
fn key_and_validity_metadata_match_the_certificates() {
    use der::{Decode, Encode};
    for root in ROOTS {
        let p = published(root.name);
        assert_eq!(root.key, p.key, "{}", root.name);
        let (y, m, d) = p.not_after;
        let day = utc(y, m, d);
        let na = root.not_after.as_secs();
        assert!(
            na <= day && na + 2 * 86_400 > day,
            "{}: notAfter {na} vs {day}",
            root.name
        );
        // Cross-check against x509-cert, an independent parser.
        let cert = x509_cert::Certificate::from_der(&root.der).expect(root.name);
        let v = cert.tbs_certificate().validity();
        assert_eq!(
            v.not_after.to_unix_duration().as_secs(),
            na,
            "{}",
            root.name
        );
        assert_eq!(
            v.not_before.to_unix_duration().as_secs(),
            root.not_before.as_secs(),
            "{}",
            root.name
        );
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .expect("spki");
        assert_eq!(
            Sha256::digest(&spki).as_slice(),
            root.spki_sha256,
            "{}",
            root.name
        );
        // x509-cert separates RDNs with "," and we with ", "; both escape a literal comma.
        let mut theirs = String::new();
        let mut escaped = false;
        for ch in cert.tbs_certificate().subject().to_string().chars() {
            theirs.push(ch);
            if ch == ',' && !escaped {
                theirs.push(' ');
            }
            escaped = ch == '\\' && !escaped;
        }
        assert_eq!(theirs, root.subject, "{}", root.name);
    }
}

#[test]
fn starfield_services_g2_expires_at_the_last_second_of_2037() {
    if let Some(sfs) = ROOTS.iter().find(|r| r.feature == "starfield-services-g2") {
        assert_eq!(sfs.not_after.as_secs(), utc(2038, 1, 1) - 1);
    }
}

/// `TLS_SERVER_ROOT_CERTS` is the certificate form of `TLS_SERVER_ROOTS` (what
/// webpki-root-certs users and rustls-platform-verifier's extra roots take): same order, each
/// certificate the root's DER, each anchor derived from it, and the very same bytes in the
/// binary, not a second copy.
#[test]
fn tls_server_root_certs_are_the_anchors_certificates_without_a_second_copy() {
    use aws_iot_roots::{ROOTS, TLS_SERVER_ROOTS, TLS_SERVER_ROOT_CERTS};
    assert_eq!(TLS_SERVER_ROOT_CERTS.len(), TLS_SERVER_ROOTS.len());
    assert_eq!(TLS_SERVER_ROOT_CERTS.len(), ROOTS.len());
    for ((cert, anchor), root) in TLS_SERVER_ROOT_CERTS
        .iter()
        .zip(TLS_SERVER_ROOTS)
        .zip(ROOTS)
    {
        assert_eq!(cert.as_ref(), root.der.as_ref(), "{}", root.name);
        assert_eq!(
            cert.as_ref().as_ptr(),
            root.der.as_ref().as_ptr(),
            "{}: a copy",
            root.name
        );
        let derived = webpki::anchor_from_trusted_cert(cert).expect("anchor");
        assert_eq!(&derived, anchor, "{}", root.name);
    }
}

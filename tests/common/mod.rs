//! Helpers shared by the integration tests: the one helper tree. Each test binary declares
//! `mod common;` and names what it uses (`common::bundles::*`); the submodules that need a
//! feature exist only when it is on.
#![allow(dead_code)]

#[cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-2",
    feature = "amazon-root-ca-3"
))]
pub(crate) mod attack_gen;
#[cfg(feature = "signing")]
pub(crate) mod bundles;
#[cfg(feature = "rumqttc")]
pub(crate) mod jobs_service;
#[cfg(feature = "client")]
pub(crate) mod mosquitto;
#[cfg(all(feature = "store", feature = "signing"))]
pub(crate) mod release;
#[cfg(feature = "store")]
pub(crate) mod simfs;

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

pub(crate) fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Every certificate in a PEM file, in order; the file must hold at least one.
pub(crate) fn load_pem(path: &Path) -> Vec<CertificateDer<'static>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    assert!(!certs.is_empty(), "{}: no certificates", path.display());
    certs
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`hex`]: panics on odd length or a non-hex digit (test data is trusted).
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Seconds since the epoch of a UTC calendar date, independent of the code under test.
pub(crate) fn utc(y: i64, m: i64, d: i64) -> u64 {
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    ((era * 146_097 + doe - 719_468) * 86_400) as u64
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's civil_from_days),
/// independent of the code under test.
pub(crate) fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `der` with its SubjectPublicKeyInfo changed by `f`, re-encoded (the signature is left as it
/// was: no code under test checks a root's self-signature, and webpki does not either).
pub(crate) fn with_spki(
    der: &[u8],
    f: impl FnOnce(&mut x509_cert::spki::SubjectPublicKeyInfoOwned),
) -> Vec<u8> {
    use der::{Decode, Encode};
    // x509-cert 0.3 keeps its fields private, so the new SPKI is spliced into the original
    // bytes and the two enclosing SEQUENCE lengths are re-encoded.
    let cert = x509_cert::Certificate::from_der(der).expect("certificate");
    let old = cert.tbs_certificate().subject_public_key_info().clone();
    let mut new = old.clone();
    f(&mut new);
    let (old, new) = (old.to_der().expect("spki"), new.to_der().expect("spki"));
    let at = der
        .windows(old.len())
        .position(|w| w == old.as_slice())
        .expect("spki in cert");
    let outer = der::asn1::AnyRef::from_der(der).expect("certificate");
    let tbs_tlv = {
        let mut r = der::SliceReader::new(outer.value()).expect("reader");
        der::Reader::tlv_bytes(&mut r).expect("tbs")
    };
    let tbs = der::asn1::AnyRef::from_der(tbs_tlv).expect("tbs");
    let tbs_start = der.len() - outer.value().len();
    let tbs_value_start = tbs_start + (tbs_tlv.len() - tbs.value().len());
    let tbs_end = tbs_start + tbs_tlv.len();
    let mut tbs_value = der[tbs_value_start..at].to_vec();
    tbs_value.extend_from_slice(&new);
    tbs_value.extend_from_slice(&der[at + old.len()..tbs_end]);
    let mut cert_value = sequence(&tbs_value);
    cert_value.extend_from_slice(&der[tbs_end..]);
    sequence(&cert_value)
}

fn sequence(value: &[u8]) -> Vec<u8> {
    use der::Encode;
    let len = der::Length::try_from(value.len()).expect("length");
    let mut out = der::Header::new(der::Tag::Sequence, len)
        .to_der()
        .expect("header");
    out.extend_from_slice(value);
    out
}

/// The same EC certificate with its point compressed (`02`/`03 || X`): the same key, in the
/// encoding rustls' providers do not accept.
pub(crate) fn compressed_point_twin(der: &[u8]) -> Vec<u8> {
    with_spki(der, |spki| {
        let point = spki.subject_public_key.raw_bytes().to_vec();
        assert_eq!(point[0], 0x04, "uncompressed point");
        let coordinate = (point.len() - 1) / 2;
        let y_odd = point[point.len() - 1] & 1 == 1;
        let mut compressed = vec![if y_odd { 0x03 } else { 0x02 }];
        compressed.extend_from_slice(&point[1..1 + coordinate]);
        spki.subject_public_key =
            der::asn1::BitString::from_bytes(&compressed).expect("bit string");
    })
}

/// The same RSA certificate with its AlgorithmIdentifier parameters absent instead of NULL.
pub(crate) fn rsa_without_null_parameters(der: &[u8]) -> Vec<u8> {
    with_spki(der, |spki| {
        assert!(spki.algorithm.parameters.is_some(), "NULL parameters");
        spki.algorithm.parameters = None;
    })
}

/// The same P-256 certificate with the point's X coordinate replaced by the field prime p:
/// an unreduced coordinate, which no valid point has.
pub(crate) fn unreduced_p256_coordinate(der: &[u8]) -> Vec<u8> {
    const P: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff,
    ];
    with_spki(der, |spki| {
        let mut point = spki.subject_public_key.raw_bytes().to_vec();
        assert_eq!(point.len(), 65, "P-256 uncompressed point");
        point[1..33].copy_from_slice(&P);
        spki.subject_public_key = der::asn1::BitString::from_bytes(&point).expect("bit string");
    })
}

/// A PEM CERTIFICATE block for `der`.
pub(crate) fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// RFC 3339 UTC text for seconds since the epoch, independent of the code under test.
pub(crate) fn rfc3339(secs: u64) -> String {
    let (y, m, d) = civil((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether an external program a test needs is here. Missing, the test fails in CI (`CI` set;
/// scripts/test-all.sh installs everything) and elsewhere skips, saying why.
pub(crate) fn available(ok: bool, what: &str, install: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is required in CI ({install})"
        );
        eprintln!("skipping: {what} not found ({install})");
    }
    ok
}

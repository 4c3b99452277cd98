//! What a certificate says about itself, for inspection tools. It decides nothing about trust.

use alloc::string::{String, ToString};

use rustls_pki_types::UnixTime;
use sha2::{Digest, Sha256};

use super::error::{BundleError, Fingerprint};
use super::limits::MAX_ROOT_NAME_BYTES;
use crate::certparse;
use crate::key::KeyAlgorithm;

/// What a certificate says about itself, read by the same parser the verifier uses. For
/// inspection tools; it decides nothing about trust.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// Subject, RFC 4514 text.
    pub subject: String,
    /// SHA-256 of the DER certificate.
    pub sha256: [u8; 32],
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The key, if of a kind this crate knows.
    pub key: Option<KeyAlgorithm>,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// basicConstraints cA is true.
    pub is_ca: bool,
    /// Issuer equals subject.
    pub self_issued: bool,
    /// The name a bundle gives this root unless told otherwise: see [`default_root_name`].
    pub default_name: String,
}

/// The display name derived for a root: the subject's CN, else its OU, else its O (Starfield
/// Class 2 has no CN), else the whole subject in RFC 4514 text; control characters dropped,
/// then cut to [`MAX_ROOT_NAME_BYTES`] on a character boundary. Deterministic, so that two
/// tools building the same bundle write the same bytes.
///
/// # Errors
///
/// [`BundleError::BadCertificate`] when `der` does not parse.
///
/// # Examples
///
/// ```
/// # let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/roots/Starfield_Class_2_CA.pem")).unwrap();
/// # let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem).map(|d: rustls_pki_types::CertificateDer<'static>| d.to_vec()).unwrap();
/// // "OU=Starfield Class 2 Certification Authority, O=Starfield Technologies, Inc., C=US"
/// let name = aws_iot_roots::bundle::default_root_name(&der).unwrap();
/// assert_eq!(name, "Starfield Class 2 Certification Authority");
/// ```
pub fn default_root_name(der: &[u8]) -> Result<String, BundleError> {
    Ok(CertificateInfo::from_der(der)?.default_name)
}

fn derive_name(subject_tlv: &[u8], subject_text: &str) -> Result<String, certparse::ParseError> {
    let mut name = subject_text;
    for oid in [
        certparse::OID_ORGANIZATION,
        certparse::OID_ORGANIZATIONAL_UNIT,
        certparse::OID_COMMON_NAME,
    ] {
        // Later wins: CN over OU over O.
        if let Some(v) = certparse::name_attribute(subject_tlv, &oid)? {
            if !v.trim().is_empty() {
                name = v;
            }
        }
    }
    let mut out = String::new();
    for ch in name.chars().filter(|c| !c.is_control()) {
        if out.len() + ch.len_utf8() > MAX_ROOT_NAME_BYTES {
            break;
        }
        out.push(ch);
    }
    Ok(out)
}

impl CertificateInfo {
    /// Reads a DER certificate.
    ///
    /// # Errors
    ///
    /// [`BundleError::BadCertificate`] naming the part that is malformed.
    pub fn from_der(der: &[u8]) -> Result<Self, BundleError> {
        let sha256: [u8; 32] = Sha256::digest(der).into();
        let bad = |e: certparse::ParseError| BundleError::BadCertificate {
            sha256: Fingerprint(sha256),
            detail: e.to_string(),
        };
        let facts = certparse::parse(der).map_err(bad)?;
        let mut subject = String::new();
        certparse::write_name(facts.subject, &mut subject).map_err(bad)?;
        let default_name = derive_name(facts.subject, &subject).map_err(bad)?;
        let secs = |s: u64| UnixTime::since_unix_epoch(core::time::Duration::from_secs(s));
        Ok(Self {
            subject,
            sha256,
            spki_sha256: Sha256::digest(facts.spki).into(),
            key: facts.key,
            not_before: secs(facts.not_before),
            not_after: secs(facts.not_after),
            is_ca: facts.basic_constraints_ca == Some(true),
            self_issued: facts.is_self_issued(),
            default_name,
        })
    }
}

//! Rule 9: the roots a bundle carries, checked against its payload and the one
//! root-acceptance rule (`crate::anchor`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rustls_pki_types::{CertificateDer, Der, TrustAnchor, UnixTime};
use sha2::{Digest, Sha256};

use super::error::{BundleError, Fingerprint};
use super::payload::Payload;
use crate::anchor::Refusal;
use crate::certparse;
use crate::key::KeyAlgorithm;

/// A root from a verified bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRoot {
    der: CertificateDer<'static>,
    name: Option<String>,
    subject: String,
    sha256: [u8; 32],
    /// Where the SubjectPublicKeyInfo TLV sits in `der`; its hash is computed when asked for,
    /// not on every verification.
    spki: (usize, usize),
    key: KeyAlgorithm,
    not_before: UnixTime,
    not_after: UnixTime,
    subject_contents: (usize, usize),
    spki_contents: (usize, usize),
}

impl VerifiedRoot {
    /// The certificate.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }
    /// The payload's display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The subject, RFC 4514 text.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// SHA-256 of the certificate.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
    /// SHA-256 of the SubjectPublicKeyInfo.
    pub fn spki_sha256(&self) -> [u8; 32] {
        let (off, len) = self.spki;
        Sha256::digest(&self.der.as_ref()[off..off + len]).into()
    }
    /// The key.
    pub fn key(&self) -> KeyAlgorithm {
        self.key
    }
    /// notBefore.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    /// notAfter.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    /// The trust anchor, framed as `webpki::anchor_from_trusted_cert` frames it.
    pub fn anchor(&self) -> TrustAnchor<'static> {
        let slice =
            |(off, len): (usize, usize)| Der::from(self.der.as_ref()[off..off + len].to_vec());
        TrustAnchor {
            subject: slice(self.subject_contents),
            subject_public_key_info: slice(self.spki_contents),
            name_constraints: None,
        }
    }
}

pub(crate) fn check_roots(
    payload: &Payload,
    certificates: &[Vec<u8>],
    trusted_time: UnixTime,
) -> Result<Vec<VerifiedRoot>, BundleError> {
    // Roots: listed at least once, at most once, and the file carries exactly the listed set.
    if payload.roots.is_empty() {
        return Err(BundleError::NoRoots);
    }
    let mut listed = BTreeSet::new();
    for r in &payload.roots {
        if !listed.insert(r.sha256) {
            return Err(BundleError::DuplicateRoot {
                sha256: Fingerprint(r.sha256),
            });
        }
    }
    let mut carried = BTreeSet::new();
    let mut by_hash = BTreeMap::new();
    for der in certificates {
        let h: [u8; 32] = Sha256::digest(der).into();
        if !listed.contains(&h) {
            return Err(BundleError::UnlistedCertificate {
                sha256: Fingerprint(h),
            });
        }
        if !carried.insert(h) {
            return Err(BundleError::DuplicateRoot {
                sha256: Fingerprint(h),
            });
        }
        by_hash.insert(h, der);
    }
    let mut roots = Vec::with_capacity(payload.roots.len());
    let mut keys = BTreeMap::new();
    for r in &payload.roots {
        let sha = Fingerprint(r.sha256);
        let der = by_hash
            .get(&r.sha256)
            .ok_or(BundleError::MissingCertificate { sha256: sha })?;
        let facts = certparse::parse(der).map_err(|e| BundleError::BadCertificate {
            sha256: sha,
            detail: e.to_string(),
        })?;
        let key = crate::anchor::accept(&facts).map_err(|refusal| match refusal {
            Refusal::NotCa => BundleError::NotCa { sha256: sha },
            Refusal::NameConstraints => BundleError::NameConstraints { sha256: sha },
            Refusal::UnsupportedKey => BundleError::UnsupportedKey { sha256: sha },
        })?;
        // One key, one root.
        if let Some(other) = keys.insert(crate::anchor::key_identity(&facts), sha) {
            return Err(BundleError::DuplicateKey { sha256: sha, other });
        }
        let mut subject = String::new();
        certparse::write_name(facts.subject, &mut subject).map_err(|e| {
            BundleError::BadCertificate {
                sha256: sha,
                detail: e.to_string(),
            }
        })?;
        let secs = |s: u64| UnixTime::since_unix_epoch(core::time::Duration::from_secs(s));
        roots.push(VerifiedRoot {
            der: CertificateDer::from((*der).clone()),
            name: r.name.clone(),
            subject,
            sha256: r.sha256,
            spki: facts.spki_range,
            key,
            not_before: secs(facts.not_before),
            not_after: secs(facts.not_after),
            subject_contents: facts.subject_contents,
            spki_contents: facts.spki_contents,
        });
    }
    let t = trusted_time.as_secs();
    if !roots
        .iter()
        .any(|r| certparse::within_validity(r.not_before.as_secs(), r.not_after.as_secs(), t))
    {
        return Err(BundleError::NoValidRoot { trusted_time });
    }
    Ok(roots)
}

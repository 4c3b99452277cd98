//! The bundle format (docs/bundle-format.md) and the device's verifier.
//!
//! A bundle file is JSON: a DSSE envelope whose payload lists roots by SHA-256 and names the
//! signer set for the next bundle, plus the roots' DER certificates outside the signed bytes,
//! each bound to the payload by its hash. Keeping certificates outside keeps the PAE within
//! the 4096 bytes AWS KMS signs, whatever the certificates weigh.
//!
//! [`verify`] is pure and synchronous: bytes, the device's [`TrustState`], a clock reading and
//! a [`Policy`] in; a [`Verdict`] out. Only it constructs a [`VerifiedBundle`], and everything
//! that applies trust takes only that type.

use std::borrow::ToOwned;
use std::collections::BTreeSet;
use std::string::{String, ToString};
use std::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use rustls_pki_types::{CertificateDer, Der, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::certparse;
use crate::dsse::{pae, EnvelopeWire, SignatureWire, PAYLOAD_TYPE};
use crate::error::{BundleError, Fingerprint, Limit, Part, Rule, SignerRole};
use crate::json::json_object;
use crate::key::KeyAlgorithm;
use crate::keys::{hex, PublicKey, SignerSet};
use crate::limits::{Limits, Policy, MAX_ROOT_NAME_BYTES};
use crate::timefmt::{format_rfc3339, parse_rfc3339_utc};

/// The payload schema this version reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

// ---------------------------------------------------------------------------------------------
// Wire format

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct BundleWire {
    envelope: EnvelopeWire,
    /// base64 (standard, padded) DER certificates.
    certificates: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct PayloadWire {
    schema: u64,
    fleet: String,
    version: u64,
    issued_at: String,
    expires_at: String,
    roots: Vec<RootRefWire>,
    signers: SignersWire,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct RootRefWire {
    sha256: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct SignersWire {
    pub(crate) threshold: u32,
    pub(crate) keys: Vec<String>,
}

json_object!(
    BundleWire => "the bundle object",
    PayloadWire => "the payload object",
    RootRefWire => "a root object",
    SignersWire => "the signers object",
);

fn malformed(part: Part, detail: impl ToString) -> BundleError {
    BundleError::Malformed {
        part,
        detail: detail.to_string(),
    }
}

fn too_large(limit: Limit, max: usize, actual: usize) -> Result<(), BundleError> {
    if actual > max {
        Err(BundleError::TooLarge { limit, max, actual })
    } else {
        Ok(())
    }
}

/// Decodes base64 after checking that the decoded size cannot exceed `max`.
fn b64_bounded(text: &str, max: usize, limit: Limit, part: Part) -> Result<Vec<u8>, BundleError> {
    // Padded base64 of n bytes is 4 * ceil(n / 3) characters, the last one or two of which
    // may be '=' padding: this is the decoded size, known before decoding.
    let padding = text.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    too_large(limit, max, (text.len() / 4 * 3).saturating_sub(padding))?;
    let bytes = B64.decode(text).map_err(|e| malformed(part, e))?;
    too_large(limit, max, bytes.len())?;
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// Typed payload

/// A root as the signed payload lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootRef {
    /// SHA-256 of the certificate DER.
    pub sha256: [u8; 32],
    /// Optional display name.
    pub name: Option<String>,
}

/// The signed content of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// The fleet this bundle is for.
    pub fleet: String,
    /// Monotonic version; a device accepts only a greater one.
    pub version: u64,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When a device stops accepting it for application.
    pub expires_at: UnixTime,
    /// The roots, by certificate SHA-256.
    pub roots: Vec<RootRef>,
    /// Who may sign the next bundle.
    pub signers: SignerSet,
}

fn check_fleet_id(fleet: &str, limits: &Limits) -> Result<(), BundleError> {
    too_large(Limit::FleetIdBytes, limits.max_fleet_id_bytes, fleet.len())?;
    let ok = !fleet.is_empty()
        && fleet
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(malformed(
            Part::Payload,
            std::format!("fleet id {fleet:?}: use 1-64 of A-Z a-z 0-9 . _ - : /"),
        ))
    }
}

fn check_root_name(name: &str, limits: &Limits) -> Result<(), BundleError> {
    too_large(Limit::RootNameBytes, limits.max_root_name_bytes, name.len())?;
    if name.chars().any(char::is_control) {
        return Err(malformed(
            Part::Payload,
            std::format!("root name {name:?} has control characters"),
        ));
    }
    Ok(())
}

fn parse_sha256_hex(text: &str) -> Result<[u8; 32], BundleError> {
    let bad = || {
        malformed(
            Part::Payload,
            std::format!("root sha256 {text:?}: expected 64 lowercase hex digits"),
        )
    };
    if text.len() != 64
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Payload {
    fn from_json(bytes: &[u8], limits: &Limits) -> Result<Self, BundleError> {
        // The schema number is read first, so that a newer schema is reported as such rather
        // than as an unknown field.
        #[derive(Serialize, Deserialize)]
        #[serde(remote = "Self")]
        struct SchemaOnly {
            schema: u64,
        }
        json_object!(SchemaOnly => "the payload object");
        let schema: SchemaOnly =
            serde_json::from_slice(bytes).map_err(|e| malformed(Part::Payload, e))?;
        if schema.schema != SCHEMA_VERSION {
            return Err(BundleError::UnsupportedSchema {
                found: schema.schema,
            });
        }
        let w: PayloadWire =
            serde_json::from_slice(bytes).map_err(|e| malformed(Part::Payload, e))?;
        check_fleet_id(&w.fleet, limits)?;
        let issued_at =
            parse_rfc3339_utc(&w.issued_at).map_err(|e| malformed(Part::IssuedAt, e))?;
        let expires_at =
            parse_rfc3339_utc(&w.expires_at).map_err(|e| malformed(Part::ExpiresAt, e))?;
        if expires_at <= issued_at {
            return Err(BundleError::EmptyValidity {
                issued_at,
                expires_at,
            });
        }
        too_large(Limit::Roots, limits.max_roots, w.roots.len())?;
        let mut roots = Vec::with_capacity(w.roots.len());
        for r in &w.roots {
            if let Some(name) = &r.name {
                check_root_name(name, limits)?;
            }
            roots.push(RootRef {
                sha256: parse_sha256_hex(&r.sha256)?,
                name: r.name.clone(),
            });
        }
        too_large(
            Limit::SignerKeys,
            limits.max_signer_keys,
            w.signers.keys.len(),
        )?;
        // Key checks (curve, canonical encoding, small order) and the threshold range.
        let signers =
            SignerSet::from_base64(&w.signers.keys, w.signers.threshold, limits.max_signer_keys)?;
        Ok(Self {
            fleet: w.fleet,
            version: w.version,
            issued_at,
            expires_at,
            roots,
            signers,
        })
    }

    /// The payload's JSON: deterministic (fixed field order, no whitespace), so that the same
    /// inputs always give the same bytes to sign.
    pub fn to_json(&self) -> Vec<u8> {
        let w = PayloadWire {
            schema: SCHEMA_VERSION,
            fleet: self.fleet.clone(),
            version: self.version,
            issued_at: format_rfc3339(self.issued_at),
            expires_at: format_rfc3339(self.expires_at),
            roots: self
                .roots
                .iter()
                .map(|r| RootRefWire {
                    sha256: hex(&r.sha256),
                    name: r.name.clone(),
                })
                .collect(),
            signers: SignersWire {
                threshold: self.signers.threshold(),
                keys: self
                    .signers
                    .keys()
                    .iter()
                    .map(PublicKey::to_base64)
                    .collect(),
            },
        };
        // Serializing these plain structs to a Vec cannot fail.
        serde_json::to_vec(&w).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// An unverified bundle: what the signing side and inspection tools handle

/// A parsed but **unverified** bundle file. Nothing here is trusted: use it to sign, attach
/// signatures and inspect; a device calls [`verify`] instead.
#[derive(Clone, Debug)]
pub struct Bundle {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<(String, Vec<u8>)>,
    certificates: Vec<Vec<u8>>,
}

impl Bundle {
    /// Parses a bundle file within `limits`, checking sizes before decoding each part. Checks
    /// no signature and does not parse the payload.
    ///
    /// # Errors
    ///
    /// [`BundleError::TooLarge`] or [`BundleError::Malformed`].
    pub fn from_bytes(bytes: &[u8], limits: &Limits) -> Result<Self, BundleError> {
        too_large(Limit::BundleBytes, limits.max_bundle_bytes, bytes.len())?;
        let w: BundleWire =
            serde_json::from_slice(bytes).map_err(|e| malformed(Part::Bundle, e))?;
        let payload = b64_bounded(
            &w.envelope.payload,
            limits.max_payload_bytes,
            Limit::PayloadBytes,
            Part::EnvelopePayload,
        )?;
        too_large(
            Limit::Signatures,
            limits.max_signatures,
            w.envelope.signatures.len(),
        )?;
        let mut signatures = Vec::with_capacity(w.envelope.signatures.len());
        for (i, s) in w.envelope.signatures.iter().enumerate() {
            // Exactly 64 bytes, which is 88 base64 characters: bounded before decoding, and
            // malformed (not a count limit) when it is anything else.
            let wrong = || malformed(Part::Signature(i), "an Ed25519 signature is 64 bytes");
            if s.sig.len() != 88 {
                return Err(wrong());
            }
            let sig = B64
                .decode(&s.sig)
                .map_err(|e| malformed(Part::Signature(i), e))?;
            if sig.len() != 64 {
                return Err(wrong());
            }
            signatures.push((s.keyid.clone(), sig));
        }
        too_large(Limit::Roots, limits.max_roots, w.certificates.len())?;
        let mut certificates = Vec::with_capacity(w.certificates.len());
        for (i, c) in w.certificates.iter().enumerate() {
            certificates.push(b64_bounded(
                c,
                limits.max_certificate_bytes,
                Limit::CertificateBytes,
                Part::Certificate(i),
            )?);
        }
        Ok(Self {
            payload_type: w.envelope.payload_type,
            payload,
            signatures,
            certificates,
        })
    }

    #[cfg(feature = "signing")]
    pub(crate) fn new_unsigned(payload: Vec<u8>, certificates: Vec<Vec<u8>>) -> Self {
        Self {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload,
            signatures: Vec::new(),
            certificates,
        }
    }

    /// The bundle file: JSON, deterministic for the same contents.
    pub fn to_bytes(&self) -> Vec<u8> {
        let w = BundleWire {
            envelope: EnvelopeWire {
                payload_type: self.payload_type.clone(),
                payload: B64.encode(&self.payload),
                signatures: self
                    .signatures
                    .iter()
                    .map(|(keyid, sig)| SignatureWire {
                        keyid: keyid.clone(),
                        sig: B64.encode(sig),
                    })
                    .collect(),
            },
            certificates: self.certificates.iter().map(|c| B64.encode(c)).collect(),
        };
        let mut out = serde_json::to_vec_pretty(&w).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The exact bytes each signer signs: DSSE's PAE of the payload.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// The raw payload bytes (unverified).
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, parsed **without verifying any signature**: for review tools such as
    /// `iot-roots bundle diff`, never for deciding what to trust.
    ///
    /// # Errors
    ///
    /// As [`verify`] would for a malformed payload.
    pub fn payload_unverified(&self, limits: &Limits) -> Result<Payload, BundleError> {
        Payload::from_json(&self.payload, limits)
    }

    /// The certificates carried (unverified DER).
    pub fn certificates(&self) -> impl Iterator<Item = CertificateDer<'_>> {
        self.certificates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
    }

    /// The keys that produced a valid signature over this bundle, among `candidates`.
    pub fn signed_by(&self, candidates: &[PublicKey]) -> BTreeSet<PublicKey> {
        let pae = self.pae();
        // Key ids once per call, not once per signature and candidate.
        let ids: Vec<String> = candidates.iter().map(PublicKey::key_id).collect();
        let mut verified = BTreeSet::new();
        for (keyid, sig) in &self.signatures {
            let Ok(sig) = Signature::from_slice(sig) else {
                continue;
            };
            // keyid is a hint: try the key it names first, then every other candidate.
            let named = |i: &usize| &ids[*i] == keyid;
            let order = (0..candidates.len())
                .filter(named)
                .chain((0..candidates.len()).filter(|i| !named(i)));
            for key in order.map(|i| &candidates[i]) {
                if key.verifying_key().verify_strict(&pae, &sig).is_ok() {
                    verified.insert(*key);
                    break;
                }
            }
        }
        verified
    }

    /// What each signature entry proves against `candidates`, in envelope order: for review
    /// tools (`iot-roots bundle signatures`), never for deciding what to trust ([`verify`]
    /// counts distinct keys; this reports entries). A signature whose `keyid` names a
    /// candidate but does not verify under it says the payload changed after signing, or the
    /// key id is wrong.
    pub fn signature_checks(&self, candidates: &[PublicKey]) -> Vec<SignatureCheck> {
        let pae = self.pae();
        let ids: Vec<String> = candidates.iter().map(PublicKey::key_id).collect();
        self.signatures
            .iter()
            .map(|(keyid, sig)| {
                let sig = Signature::from_slice(sig).ok();
                let verified_by = sig.and_then(|sig| {
                    candidates
                        .iter()
                        .find(|k| k.verifying_key().verify_strict(&pae, &sig).is_ok())
                        .copied()
                });
                let named = ids.iter().position(|id| id == keyid).map(|i| candidates[i]);
                SignatureCheck {
                    keyid: keyid.clone(),
                    verified_by,
                    named,
                }
            })
            .collect()
    }

    /// Number of signature entries.
    pub fn signature_count(&self) -> usize {
        self.signatures.len()
    }

    /// Attaches an externally produced signature (an HSM, AWS KMS, `openssl pkeyutl`) after
    /// checking it with `verify_strict` against `key`.
    ///
    /// # Errors
    ///
    /// [`BundleError::Malformed`] for a signature that is not 64 bytes;
    /// [`BundleError::BadSignature`] when it does not verify (deliberately opaque).
    pub fn attach(&mut self, key: &PublicKey, signature: &[u8]) -> Result<(), BundleError> {
        let sig = Signature::from_slice(signature)
            .map_err(|_| malformed(Part::AttachedSignature, "an Ed25519 signature is 64 bytes"))?;
        key.verifying_key()
            .verify_strict(&self.pae(), &sig)
            .map_err(|_| BundleError::BadSignature)?;
        self.push_signature(key, signature.to_vec());
        Ok(())
    }

    pub(crate) fn push_signature(&mut self, key: &PublicKey, sig: Vec<u8>) {
        self.signatures.push((key.key_id(), sig));
    }
}

/// One signature entry, as [`Bundle::signature_checks`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureCheck {
    /// The entry's `keyid`, as written (a hint; may be empty).
    pub keyid: String,
    /// The candidate key the signature verifies under (`verify_strict` over the PAE), if any.
    pub verified_by: Option<PublicKey>,
    /// The candidate key the `keyid` names, if any.
    pub named: Option<PublicKey>,
}

// ---------------------------------------------------------------------------------------------
// Device state and verification

/// What a device trusts now: the inputs to every rollback, fleet and signer check.
///
/// Start from [`TrustState::initial`] (a device that never applied a bundle) or
/// [`TrustState::after`], and assign fields to describe another state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustState {
    /// The device's fleet.
    pub fleet: String,
    /// The active bundle's version (0 before any bundle).
    pub version: u64,
    /// Who may sign the next bundle.
    pub signers: SignerSet,
    /// Trusted time never goes below this: the crate's build time, then the last accepted
    /// bundle's `issued_at`.
    pub time_floor: UnixTime,
    /// SHA-256 of the active bundle's payload, to recognise a re-offered identical bundle.
    pub payload_sha256: Option<[u8; 32]>,
}

impl TrustState {
    /// A device that has never applied a bundle: version 0, the application's signer set, and
    /// the crate's build time as the time floor.
    pub fn initial(fleet: impl Into<String>, signers: SignerSet) -> Self {
        Self {
            fleet: fleet.into(),
            version: 0,
            signers,
            time_floor: crate::BUILD_TIME,
            payload_sha256: None,
        }
    }

    /// The state after applying `bundle`.
    ///
    /// The time floor rises to the bundle's `issued_at`, but never past the trusted time it
    /// was verified at: signers vouch that the bundle exists, so the true time is at least
    /// roughly `issued_at`, but `issued_at` may lie up to the clock tolerance ahead, and a
    /// floor lifted by that much would lift the next bundle's tolerance window with it
    /// (48 bundles walked a fixed clock's floor 47 hours ahead). So bundles alone never move
    /// the floor beyond the device's own clock.
    pub fn after(&self, bundle: &VerifiedBundle) -> Self {
        Self {
            fleet: self.fleet.clone(),
            version: bundle.payload.version,
            signers: bundle.payload.signers.clone(),
            time_floor: self
                .time_floor
                .max(bundle.payload.issued_at.min(bundle.trusted_time)),
            payload_sha256: Some(bundle.payload_sha256),
        }
    }
}

/// A root from a verified bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRoot {
    der: CertificateDer<'static>,
    name: Option<String>,
    subject: String,
    sha256: [u8; 32],
    spki_sha256: [u8; 32],
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
    pub fn spki_sha256(&self) -> &[u8; 32] {
        &self.spki_sha256
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

/// A bundle that passed every rule in [`verify`]. Only `verify` constructs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    payload: Payload,
    payload_sha256: [u8; 32],
    roots: Vec<VerifiedRoot>,
    bytes: Vec<u8>,
    trusted_time: UnixTime,
    clock_behind_floor: bool,
}

impl VerifiedBundle {
    /// The verified payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }
    /// The roots, in payload order.
    pub fn roots(&self) -> &[VerifiedRoot] {
        &self.roots
    }
    /// The trust anchors, in payload order.
    pub fn anchors(&self) -> Vec<TrustAnchor<'static>> {
        self.roots.iter().map(VerifiedRoot::anchor).collect()
    }
    /// The bundle file exactly as verified, for persistence.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// SHA-256 of the payload.
    pub fn payload_sha256(&self) -> &[u8; 32] {
        &self.payload_sha256
    }
    /// The trusted time verification used: max(clock, floor).
    pub fn trusted_time(&self) -> UnixTime {
        self.trusted_time
    }
    /// Whether the clock read behind the time floor (reported, not fatal: device clocks step
    /// backwards).
    pub fn clock_behind_floor(&self) -> bool {
        self.clock_behind_floor
    }
    /// A rustls root store holding exactly this bundle's roots.
    #[cfg(feature = "rustls")]
    pub fn root_cert_store(&self) -> rustls::RootCertStore {
        rustls::RootCertStore {
            roots: self.anchors(),
        }
    }
}

/// The outcome of a successful [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// A newer bundle that passed every rule: apply it.
    Apply(VerifiedBundle),
    /// The active bundle again (same version, identical payload): nothing to do.
    AlreadyActive {
        /// Its version.
        version: u64,
    },
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
    let mut by_hash = std::collections::BTreeMap::new();
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
    let mut spkis = std::collections::BTreeMap::new();
    for r in &payload.roots {
        let sha = Fingerprint(r.sha256);
        let der = by_hash
            .get(&r.sha256)
            .ok_or(BundleError::MissingCertificate { sha256: sha })?;
        let facts = certparse::parse(der).map_err(|e| BundleError::BadCertificate {
            sha256: sha,
            detail: e.to_string(),
        })?;
        if facts.basic_constraints_ca != Some(true) {
            return Err(BundleError::NotCa { sha256: sha });
        }
        if facts.has_name_constraints {
            return Err(BundleError::NameConstraints { sha256: sha });
        }
        let Some(key) = facts.key.filter(|k| k.usable_by_rustls()) else {
            return Err(BundleError::UnsupportedKey { sha256: sha });
        };
        let spki_sha256: [u8; 32] = Sha256::digest(facts.spki).into();
        // One key, one root: compared by the key bits, not the SPKI bytes, so that another
        // spelling of the AlgorithmIdentifier cannot make one key look like two (certparse
        // also refuses every encoding of a key but the one rustls uses).
        let key_bits: [u8; 32] = Sha256::digest(facts.public_key).into();
        if let Some(other) = spkis.insert(key_bits, sha) {
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
            spki_sha256,
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

/// Verifies a bundle file against what the device trusts now.
///
/// The rules, in order (each has a named test in tests/bundle_rules.rs):
///
/// 1. Sizes: file, payload, signature count and size, certificate count and size, all
///    before decoding what they bound.
/// 2. `payloadType` must equal [`PAYLOAD_TYPE`] exactly.
/// 3. Signatures (`verify_strict`, over the PAE) from at least `threshold` *distinct* keys of
///    the current signer set, before the payload is parsed. `keyid` is only a hint;
///    signatures by unknown keys are ignored.
/// 4. The payload parses: schema, unknown fields and duplicate keys refused.
/// 5. Fleet id equals the device's.
/// 6. Version: greater than the active one; equal with an identical payload is
///    [`Verdict::AlreadyActive`]; equal with another payload, or lower, is refused; so is
///    `u64::MAX`, after which no bundle could ever be applied (a fast-forward freeze).
/// 7. Signer rotation: a different signer set must also be signed by its own threshold.
/// 8. Time: trusted time is max(`clock`, floor); refused when expired, or issued beyond the
///    clock tolerance in the future. A clock behind the floor is reported, not fatal.
/// 9. Roots: at least one; exactly the listed certificates, no duplicates; each an X.509 CA
///    with a key rustls can use and no name constraints; no shared key; at least one valid at
///    trusted time.
///
/// # Security
///
/// Nothing is trusted, and nothing persisted, until every rule passed: the function is pure.
/// See tough's CVE-2020-15093 (duplicate signatures), CVE-2025-2885 (version jumps) and
/// CVE-2025-2888 (persisting before verifying) for why the rules are what they are.
///
/// # Errors
///
/// A [`BundleError`] naming the first rule that failed.
pub fn verify(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
) -> Result<Verdict, BundleError> {
    verify_steps(
        bytes,
        state,
        clock,
        policy,
        Replay::AlreadyActive,
        &mut |_, _| {},
    )
}

/// What rule 6 makes of the active bundle offered again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Nothing to do: [`Verdict::AlreadyActive`] (what a device normally wants).
    AlreadyActive,
    /// Verify it in full for re-application: the store's floors name it, but its generation
    /// file was lost. Only the identical payload passes; any other at that version is still a
    /// conflict.
    // Only the store re-applies; a verify-only build never constructs it.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    Reapply,
}

/// The rules of [`verify`], as named steps in order. `report` hears each rule as it passes;
/// the first failure is returned. One sequence for [`verify`], the store's re-application of
/// a lost generation ([`verify_reapply`]) and the rule-by-rule report ([`verify_report`]).
fn verify_steps(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
    replay: Replay,
    report: &mut dyn FnMut(Rule, Outcome),
) -> Result<Verdict, BundleError> {
    // 1. Sizes, checked by the parser before each decode.
    let bundle = Bundle::from_bytes(bytes, &policy.limits)?;
    report(Rule::Sizes, Outcome::Passed);

    // 2. The type is part of what was signed; refuse anything else before any crypto.
    check_type(&bundle)?;
    report(Rule::PayloadType, Outcome::Passed);

    // 3. Current signers' threshold, over the exact payload bytes, before parsing them.
    let current_signed = authenticate(&bundle, &state.signers, SignerRole::Current)?;
    report(Rule::CurrentSignatures, Outcome::Passed);

    // 4. Only now parse the payload.
    let payload = Payload::from_json(&bundle.payload, &policy.limits)?;
    let payload_sha256: [u8; 32] = Sha256::digest(&bundle.payload).into();
    report(Rule::Payload, Outcome::Passed);

    // 5. Bound to one fleet: another fleet's bundle is never replayed here.
    check_fleet(&payload, &state.fleet)?;
    report(Rule::Fleet, Outcome::Passed);

    // 6. Rollback, version conflicts, and a fast-forward to the last possible version.
    if payload.version == u64::MAX {
        return Err(BundleError::VersionExhausted {
            version: payload.version,
        });
    }
    if payload.version < state.version {
        return Err(BundleError::Rollback {
            offered: payload.version,
            current: state.version,
        });
    }
    if payload.version == state.version {
        let identical = state.payload_sha256 == Some(payload_sha256);
        match (identical, replay) {
            (true, Replay::AlreadyActive) => {
                report(Rule::Version, Outcome::Passed);
                return Ok(Verdict::AlreadyActive {
                    version: payload.version,
                });
            }
            (true, Replay::Reapply) => {}
            (false, _) => {
                return Err(BundleError::VersionConflict {
                    version: payload.version,
                })
            }
        }
    }
    report(Rule::Version, Outcome::Passed);

    // 7. A new signer set must prove its own keys signed too, so a set can only be replaced
    //    by agreement of both the old and the new key holders.
    check_rotation(&bundle, &payload, &state.signers, &current_signed)?;
    report(Rule::SignerRotation, Outcome::Passed);

    // 8. Time. The floor only rises, so a clock stepped back cannot revive an old bundle.
    let (trusted_time, clock_behind_floor) = check_time(&payload, clock, state, policy)?;
    report(Rule::Time, Outcome::Passed);

    // 9. Roots.
    let roots = check_roots(&payload, &bundle.certificates, trusted_time)?;
    report(Rule::Roots, Outcome::Passed);

    Ok(Verdict::Apply(VerifiedBundle {
        payload,
        payload_sha256,
        roots,
        bytes: bytes.to_vec(),
        trusted_time,
        clock_behind_floor,
    }))
}

fn check_type(bundle: &Bundle) -> Result<(), BundleError> {
    if bundle.payload_type != PAYLOAD_TYPE {
        return Err(BundleError::PayloadType {
            found: bundle.payload_type.clone(),
        });
    }
    Ok(())
}

/// A threshold of distinct keys of `signers` signed: the keys that did.
fn authenticate(
    bundle: &Bundle,
    signers: &SignerSet,
    role: SignerRole,
) -> Result<BTreeSet<PublicKey>, BundleError> {
    let signed = bundle.signed_by(signers.keys());
    if signed.len() < signers.threshold() as usize {
        return Err(BundleError::SignatureThreshold {
            role,
            required: signers.threshold(),
        });
    }
    Ok(signed)
}

fn check_fleet(payload: &Payload, fleet: &str) -> Result<(), BundleError> {
    if payload.fleet != fleet {
        return Err(BundleError::WrongFleet {
            expected: fleet.to_owned(),
            found: payload.fleet.clone(),
        });
    }
    Ok(())
}

fn check_rotation(
    bundle: &Bundle,
    payload: &Payload,
    current: &SignerSet,
    current_signed: &BTreeSet<PublicKey>,
) -> Result<(), BundleError> {
    if payload.signers.same_as(current) {
        return Ok(());
    }
    // Keys in both sets were tried in step 3 already: only the others are verified now.
    let joining: Vec<PublicKey> = payload
        .signers
        .keys()
        .iter()
        .filter(|k| !current.contains(k))
        .copied()
        .collect();
    let mut new_signed = bundle.signed_by(&joining);
    new_signed.extend(
        payload
            .signers
            .keys()
            .iter()
            .filter(|k| current_signed.contains(k))
            .copied(),
    );
    if new_signed.len() < payload.signers.threshold() as usize {
        return Err(BundleError::SignatureThreshold {
            role: SignerRole::New,
            required: payload.signers.threshold(),
        });
    }
    Ok(())
}

/// Trusted time and whether the clock reads behind the floor.
fn check_time(
    payload: &Payload,
    clock: UnixTime,
    state: &TrustState,
    policy: &Policy,
) -> Result<(UnixTime, bool), BundleError> {
    let trusted_time = clock.max(state.time_floor);
    let clock_behind_floor = clock < state.time_floor;
    if payload.expires_at <= trusted_time {
        return Err(BundleError::Expired {
            expires_at: payload.expires_at,
            trusted_time,
        });
    }
    let latest = trusted_time
        .as_secs()
        .saturating_add(policy.clock_tolerance.as_secs());
    if payload.issued_at.as_secs() > latest {
        return Err(BundleError::IssuedInFuture {
            issued_at: payload.issued_at,
            trusted_time,
        });
    }
    Ok((trusted_time, clock_behind_floor))
}

/// [`verify`] for a bundle the device's floors already name (same version, same payload)
/// whose committed generation was lost: verified by every rule, and returned for
/// re-application instead of as "already active". Any other payload at that version is a
/// conflict, as in [`verify`].
#[cfg(feature = "store")]
pub(crate) fn verify_reapply(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
) -> Result<Verdict, BundleError> {
    verify_steps(bytes, state, clock, policy, Replay::Reapply, &mut |_, _| {})
}

/// What one rule made of a bundle, in a [`verify_report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The rule held.
    Passed,
    /// The rule refused the bundle.
    Failed(BundleError),
    /// An earlier rule refused the bundle, so this one was not checked.
    NotReached,
    /// The bundle is already active: nothing after the version rule applies.
    NotNeeded,
}

/// Every rule of [`verify`] with its outcome, in checking order, and the verdict: for
/// review tools (`iot-roots bundle verify`), computed by the same steps as [`verify`].
pub fn verify_report(
    bytes: &[u8],
    state: &TrustState,
    clock: UnixTime,
    policy: &Policy,
) -> (Vec<(Rule, Outcome)>, Result<Verdict, BundleError>) {
    let mut outcomes: Vec<(Rule, Outcome)> = Vec::with_capacity(Rule::ALL.len());
    let result = verify_steps(
        bytes,
        state,
        clock,
        policy,
        Replay::AlreadyActive,
        &mut |r, o| outcomes.push((r, o)),
    );
    let after = match &result {
        Err(e) => {
            outcomes.push((e.rule(), Outcome::Failed(e.clone())));
            Outcome::NotReached
        }
        Ok(_) => Outcome::NotNeeded,
    };
    for rule in Rule::ALL {
        if !outcomes.iter().any(|(r, _)| *r == rule) {
            outcomes.push((rule, after.clone()));
        }
    }
    outcomes.sort_by_key(|(r, _)| *r);
    (outcomes, result)
}

/// Re-verifies a bundle this device committed earlier, on every open of the trust store, to
/// catch bit rot and tampering of the state directory.
///
/// Every committed bundle was signed by a threshold of its own payload's signer set (rule 7
/// makes a rotating bundle prove its new keys; otherwise the sets are the same), so that is
/// what is checked, with the structural steps of [`verify`]: sizes, type, parse, fleet and
/// roots. Time rules are not applied: an active bundle keeps working after it expires
/// (refusing it would brick the device; the store reports it as stale instead).
///
/// `accepted_at` is the trusted time at which the device accepted it: at least one root was
/// valid then.
#[cfg(feature = "store")]
pub(crate) fn verify_committed(
    bytes: &[u8],
    fleet: &str,
    accepted_at: UnixTime,
    limits: &Limits,
) -> Result<VerifiedBundle, BundleError> {
    let bundle = Bundle::from_bytes(bytes, limits)?;
    check_type(&bundle)?;
    let payload = Payload::from_json(&bundle.payload, limits)?;
    authenticate(&bundle, &payload.signers, SignerRole::New)?;
    check_fleet(&payload, fleet)?;
    let roots = check_roots(&payload, &bundle.certificates, accepted_at)?;
    Ok(VerifiedBundle {
        payload_sha256: Sha256::digest(&bundle.payload).into(),
        trusted_time: accepted_at,
        payload,
        roots,
        bytes: bytes.to_vec(),
        clock_behind_floor: false,
    })
}

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

#[cfg(all(
    test,
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1"
))]
mod tests {
    use super::*;
    use crate::bundle::{BundleBuilder, SigningKey};

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(core::time::Duration::from_secs(secs))
    }

    /// Re-application accepts only the payload the floors name: a different payload at the
    /// same version stays a conflict even on this path (the store reaches it only after
    /// `verify` said "already active", so nothing else would notice the rule missing).
    #[test]
    fn reapply_accepts_only_the_payload_the_floors_name() {
        let key = SigningKey::generate();
        let set = SignerSet::new(std::vec![key.public_key()], 1).expect("set");
        let ca1 = CertificateDer::from(crate::ROOTS[0].der.to_vec());
        let make = |expires: u64| {
            let mut b = BundleBuilder::new("f", 1, at(1_798_000_000), at(expires), set.clone())
                .root(ca1.clone(), None)
                .build(&Limits::default())
                .expect("bundle");
            b.sign(&key);
            b.to_bytes()
        };
        let (one, other) = (make(1_830_000_000), make(1_830_000_001));
        let mut state = TrustState::initial("f", set.clone());
        state.time_floor = at(1_797_000_000);
        let policy = Policy::default();
        let v = match verify(&one, &state, at(1_798_100_000), &policy) {
            Ok(Verdict::Apply(v)) => v,
            other => panic!("{other:?}"),
        };
        let floors = state.after(&v);
        let now = at(1_798_100_000);
        assert!(matches!(
            verify_reapply(&one, &floors, now, &policy),
            Ok(Verdict::Apply(_))
        ));
        assert_eq!(
            verify_reapply(&other, &floors, now, &policy),
            Err(BundleError::VersionConflict { version: 1 })
        );
        assert_eq!(
            verify(&one, &floors, now, &policy),
            Ok(Verdict::AlreadyActive { version: 1 })
        );
    }
}

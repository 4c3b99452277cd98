//! A parsed but unverified bundle file: what the signing side and inspection tools handle.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use rustls_pki_types::CertificateDer;

use super::dsse::{pae, EnvelopeWire, SignatureWire};
use super::error::{BundleError, Limit, Part};
use super::keys::PublicKey;
use super::limits::Limits;
use super::payload::Payload;
use super::wire::{b64_bounded, malformed, too_large, BundleWire};

/// A parsed but **unverified** bundle file. Nothing here is trusted: use it to sign, attach
/// signatures and inspect; a device calls [`verify`](super::verify()) instead.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub(super) payload_type: String,
    pub(super) payload: Vec<u8>,
    pub(super) signatures: Vec<(String, Vec<u8>)>,
    pub(super) certificates: Vec<Vec<u8>>,
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
            payload_type: super::dsse::PAYLOAD_TYPE.into(),
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
    /// As [`verify`](super::verify()) would for a malformed payload.
    pub fn payload_unverified(&self, limits: &Limits) -> Result<Payload, BundleError> {
        Payload::from_json(&self.payload, limits, &[])
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
    /// tools (`iot-roots bundle signatures`), never for deciding what to trust ([`verify`](super::verify())
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

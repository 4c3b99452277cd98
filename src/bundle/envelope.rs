//! A parsed but unverified bundle file: what the signing side and inspection tools handle.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::CertificateDer;

use super::dsse::{pae, EnvelopeWire, Format, SignatureWire};
use super::error::{BundleError, Limit, Part};
use super::keys::{Algorithm, PublicKey};
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
    /// v2: the encoded keys of the payload's signer set, unverified; `None` when the file
    /// has no `keys` member.
    pub(super) keys: Option<Vec<Vec<u8>>>,
}

/// The base64 length of an `n`-byte value, padded.
const fn b64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Which algorithm's signature an entry of this base64 length can be, among `allowed`: each
/// algorithm has one exact length, so this is known before decoding.
fn signature_class(text: &str, allowed: &[Algorithm]) -> Option<Algorithm> {
    allowed
        .iter()
        .copied()
        .find(|a| b64_len(a.signature_len()) == text.len())
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
        // v1 carries Ed25519 signatures only; anything else may be any algorithm's (an
        // unknown type is refused by rule 2, after this).
        let v1 = Format::from_payload_type(&w.envelope.payload_type) == Some(Format::V1);
        let allowed: &[Algorithm] = if v1 {
            &[Algorithm::Ed25519]
        } else {
            &Algorithm::ALL
        };
        too_large(
            Limit::Signatures,
            limits.max_signatures * allowed.len(),
            w.envelope.signatures.len(),
        )?;
        let mut per_algorithm = [0usize; Algorithm::ALL.len()];
        let wrong_length = |i| {
            malformed(
                Part::Signature(i),
                if v1 {
                    "an Ed25519 signature is 64 bytes"
                } else {
                    "a signature is 64 (ed25519), 3309 (ml-dsa-65) or 4627 (ml-dsa-87) bytes"
                },
            )
        };
        for (i, s) in w.envelope.signatures.iter().enumerate() {
            // One algorithm's exact length in base64: bounded before decoding, and malformed
            // (not a count limit) when it is anything else.
            let Some(class) = signature_class(&s.sig, allowed) else {
                return Err(wrong_length(i));
            };
            let slot = Algorithm::ALL.iter().position(|a| *a == class).unwrap_or(0);
            let n = &mut per_algorithm[slot];
            *n += 1;
            too_large(Limit::Signatures, limits.max_signatures, *n)?;
        }
        let mut signatures = Vec::with_capacity(w.envelope.signatures.len());
        for (i, s) in w.envelope.signatures.iter().enumerate() {
            let sig = B64
                .decode(&s.sig)
                .map_err(|e| malformed(Part::Signature(i), e))?;
            if !allowed.iter().any(|a| a.signature_len() == sig.len()) {
                return Err(wrong_length(i));
            }
            signatures.push((s.keyid.clone(), sig));
        }
        let keys = match &w.keys {
            None => None,
            Some(_) if v1 => {
                return Err(malformed(
                    Part::Bundle,
                    "a v1 bundle carries no `keys` (its keys are in the payload)",
                ))
            }
            Some(keys) => {
                too_large(Limit::SignerKeys, limits.max_signer_keys, keys.len())?;
                let mut out = Vec::with_capacity(keys.len());
                for (i, k) in keys.iter().enumerate() {
                    out.push(b64_bounded(
                        k,
                        limits.max_key_bytes,
                        Limit::KeyBytes,
                        Part::Key(i),
                    )?);
                }
                Some(out)
            }
        };
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
            keys,
        })
    }

    #[cfg(feature = "signing")]
    pub(crate) fn new_unsigned(
        format: Format,
        payload: Vec<u8>,
        certificates: Vec<Vec<u8>>,
        keys: Option<Vec<Vec<u8>>>,
    ) -> Self {
        Self {
            payload_type: format.payload_type().into(),
            payload,
            signatures: Vec::new(),
            certificates,
            keys,
        }
    }

    /// The format its `payloadType` names, if any this version reads (unverified).
    pub fn format(&self) -> Option<Format> {
        Format::from_payload_type(&self.payload_type)
    }

    /// The encoded signer keys a v2 file carries (unverified; bound to the payload by hash).
    pub fn carried_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().flatten().map(Vec::as_slice)
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
            keys: self
                .keys
                .as_ref()
                .map(|keys| keys.iter().map(|k| B64.encode(k)).collect()),
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
        let none = super::keys::SignerSet::none();
        let parsed =
            super::payload::ParsedPayload::from_json(self.format(), &self.payload, limits, &none)?;
        parsed.resolve(self, limits, &none)
    }

    /// The certificates carried (unverified DER).
    pub fn certificates(&self) -> impl Iterator<Item = CertificateDer<'_>> {
        self.certificates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
    }

    /// The keys that produced a valid signature over this bundle, among `candidates`.
    ///
    /// In v2 an entry counts only for the key its `keyid` names, so it costs at most one
    /// verification; in v1 the `keyid` is a hint, tried first, then every other candidate.
    pub fn signed_by(&self, candidates: &[PublicKey]) -> BTreeSet<PublicKey> {
        let pae = self.pae();
        let binding = self.format() != Some(Format::V1);
        // Key ids once per call, not once per signature and candidate.
        let ids: Vec<String> = candidates.iter().map(PublicKey::key_id).collect();
        let mut verified = BTreeSet::new();
        for (keyid, sig) in &self.signatures {
            let named = |i: &usize| &ids[*i] == keyid;
            let others = (0..candidates.len()).filter(|i| !binding && !named(i));
            let order = (0..candidates.len()).filter(named).chain(others);
            for key in order.map(|i| &candidates[i]) {
                if key.verifies(&pae, sig) {
                    verified.insert(key.clone());
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
                let verified_by = candidates.iter().find(|k| k.verifies(&pae, sig)).cloned();
                let named = ids
                    .iter()
                    .position(|id| id == keyid)
                    .map(|i| candidates[i].clone());
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
    /// checking it against `key`, by `key`'s algorithm, over [`Bundle::pae`].
    ///
    /// # Errors
    ///
    /// [`BundleError::Malformed`] for a key a v1 bundle cannot carry (not Ed25519) or a
    /// signature that is not the algorithm's length; [`BundleError::BadSignature`] when it
    /// does not verify (deliberately opaque).
    pub fn attach(&mut self, key: &PublicKey, signature: &[u8]) -> Result<(), BundleError> {
        self.check_algorithm(key.algorithm())?;
        let expected = key.algorithm().signature_len();
        if signature.len() != expected {
            return Err(malformed(
                Part::AttachedSignature,
                alloc::format!("an {} signature is {expected} bytes", key.algorithm()),
            ));
        }
        if !key.verifies(&self.pae(), signature) {
            return Err(BundleError::BadSignature);
        }
        self.push_signature(key, signature.to_vec());
        Ok(())
    }

    /// Refuses a signature algorithm the bundle's format cannot carry.
    pub(crate) fn check_algorithm(&self, algorithm: Algorithm) -> Result<(), BundleError> {
        if self.format() == Some(Format::V1) && !algorithm.in_v1() {
            return Err(malformed(
                Part::AttachedSignature,
                alloc::format!(
                    "a v1 bundle carries only ed25519 signatures, not {algorithm}; build it as v2"
                ),
            ));
        }
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
    /// The candidate key the signature verifies under (by its algorithm, over the PAE), if any.
    pub verified_by: Option<PublicKey>,
    /// The candidate key the `keyid` names, if any.
    pub named: Option<PublicKey>,
}

//! Signer keys of every algorithm, the groups they form and the signer sets that authorize
//! bundles: one rule for what a valid set is, used for payloads, device state and files.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::bundle::error::KeyError;
use crate::bundle::limits::MAX_SIGNER_KEYS;
use crate::hex::hex;

/// A signature algorithm a signer group uses. It is named by the signed payload or by the
/// device's own state, never taken from a signature entry, an unsigned field or a key's
/// length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// Ed25519 (RFC 8032), verified with `verify_strict`: `ed25519`.
    Ed25519,
    /// ML-DSA-65 (FIPS 204), pure, with the empty context string: `ml-dsa-65`.
    MlDsa65,
    /// ML-DSA-87 (FIPS 204, CNSA 2.0's level), pure, empty context: `ml-dsa-87`.
    MlDsa87,
}

impl Algorithm {
    /// Every algorithm, in the order groups are listed and checked.
    pub const ALL: [Algorithm; 3] = [Algorithm::Ed25519, Algorithm::MlDsa65, Algorithm::MlDsa87];

    /// The label in payloads and signer-set files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::MlDsa65 => "ml-dsa-65",
            Self::MlDsa87 => "ml-dsa-87",
        }
    }

    /// The algorithm a label names, exactly (no case folding).
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == label)
    }

    /// Bytes of an encoded public key: 32 (RFC 8032), 1,952 and 2,592 (FIPS 204, table 2).
    pub const fn public_key_len(self) -> usize {
        match self {
            Self::Ed25519 => 32,
            Self::MlDsa65 => 1952,
            Self::MlDsa87 => 2592,
        }
    }

    /// Bytes of a signature: 64, 3,309 and 4,627 (FIPS 204, table 2).
    pub const fn signature_len(self) -> usize {
        match self {
            Self::Ed25519 => 64,
            Self::MlDsa65 => 3309,
            Self::MlDsa87 => 4627,
        }
    }

    /// Whether format v1 can carry it (v1 is Ed25519 only).
    pub(crate) fn in_v1(self) -> bool {
        self == Self::Ed25519
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ML-DSA key, decoded once: `VerifyingKey::decode` expands the public matrix, which costs
/// about as much as a verification, so it is done when the key is loaded.
struct MlDsaKey<P: ml_dsa::MlDsaParams> {
    encoded: Box<[u8]>,
    key: ml_dsa::VerifyingKey<P>,
}

// The decompressed Ed25519 point stays inline (v1's every key, and no allocation per key);
// the ML-DSA keys, tens of KiB expanded, are behind the Arc.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Material {
    Ed25519 { raw: [u8; 32], point: VerifyingKey },
    // Shared, not copied: the expanded matrix is tens of KiB, and sets are cloned into every
    // device state.
    MlDsa65(Arc<MlDsaKey<ml_dsa::MlDsa65>>),
    MlDsa87(Arc<MlDsaKey<ml_dsa::MlDsa87>>),
}

/// A validated signer public key of one [`Algorithm`].
///
/// Ed25519 keys are on the curve, canonically encoded, not of small order, and in the
/// prime-order subgroup; ML-DSA keys are FIPS 204 `pkEncode` outputs of the right length
/// (every such string is a key). Either way each key has one accepted encoding, so "two keys"
/// means "two signers", and a key's identity is its algorithm and encoding.
#[derive(Clone)]
pub struct PublicKey {
    id: [u8; 32],
    material: Material,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm() == other.algorithm() && self.as_bytes() == other.as_bytes()
    }
}
impl Eq for PublicKey {}
impl core::hash::Hash for PublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.algorithm().hash(state);
        self.as_bytes().hash(state);
    }
}
impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.algorithm(), self.as_bytes()).cmp(&(other.algorithm(), other.as_bytes()))
    }
}

impl PublicKey {
    /// Checks a raw 32-byte Ed25519 key (format v1's only kind).
    ///
    /// # Errors
    ///
    /// As [`PublicKey::from_encoded`] with [`Algorithm::Ed25519`].
    ///
    /// # Security
    ///
    /// A key `A' = A + T`, with `T` of order 8, passes the small-order and encoding checks, yet
    /// whoever holds the secret of `A` signs for `A'` too: `verify_strict` checks
    /// `[s]B = R + [k]A'`, which holds for `A`'s signature whenever 8 divides `k`, so one
    /// nonce in eight works. With both in a signer set, one secret would cast two votes (the
    /// class of tough's CVE-2020-15093: count distinct *signers*, not distinct byte strings).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        Self::checked(Algorithm::Ed25519, bytes, None)
    }

    /// Checks an encoded key of `algorithm`: the raw 32 bytes for Ed25519, FIPS 204
    /// `pkEncode` for ML-DSA. The algorithm is the caller's to know (from a signed payload,
    /// the device's state or a labelled file), never guessed from the length.
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongLength`] for another length. For Ed25519 also
    /// [`KeyError::Malformed`] off the curve, [`KeyError::NonCanonical`] for a second
    /// encoding of a point (it would count as a second key), [`KeyError::Weak`] for a
    /// small-order key (under which forged signatures verify with plain `verify`), and
    /// [`KeyError::Torsion`] for a key with a small-order component.
    pub fn from_encoded(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        Self::checked(algorithm, bytes, None)
    }

    pub(crate) fn checked(
        algorithm: Algorithm,
        bytes: &[u8],
        index: Option<usize>,
    ) -> Result<Self, KeyError> {
        if bytes.len() != algorithm.public_key_len() {
            return Err(KeyError::WrongLength {
                algorithm,
                expected: algorithm.public_key_len(),
                actual: bytes.len(),
                index,
            });
        }
        let id: [u8; 32] = Sha256::digest(bytes).into();
        let material = match algorithm {
            Algorithm::Ed25519 => {
                let mut raw = [0u8; 32];
                raw.copy_from_slice(bytes);
                let vk =
                    VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::Malformed { index })?;
                // VerifyingKey keeps the bytes it was given; only re-encoding the decompressed
                // point reveals a y >= p or a sign bit set on x = 0.
                if vk.to_edwards().compress().to_bytes() != raw {
                    return Err(KeyError::NonCanonical { index });
                }
                if vk.is_weak() {
                    return Err(KeyError::Weak { index });
                }
                if !vk.to_edwards().is_torsion_free() {
                    return Err(KeyError::Torsion { index });
                }
                Material::Ed25519 { raw, point: vk }
            }
            Algorithm::MlDsa65 => Material::MlDsa65(Arc::new(ml_dsa_key(bytes)?)),
            Algorithm::MlDsa87 => Material::MlDsa87(Arc::new(ml_dsa_key(bytes)?)),
        };
        Ok(Self { id, material })
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match &self.material {
            Material::Ed25519 { .. } => Algorithm::Ed25519,
            Material::MlDsa65(_) => Algorithm::MlDsa65,
            Material::MlDsa87(_) => Algorithm::MlDsa87,
        }
    }

    /// The encoded key: 32 raw bytes for Ed25519, `pkEncode` for ML-DSA.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.material {
            Material::Ed25519 { raw, .. } => raw,
            Material::MlDsa65(k) => &k.encoded,
            Material::MlDsa87(k) => &k.encoded,
        }
    }

    /// SHA-256 of the encoded key: how a v2 payload names it, and every version's key id.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.id
    }

    /// The key id: lowercase hex of [`PublicKey::sha256`]. A hint in v1 envelopes; in v2 it
    /// binds a signature entry to this key.
    pub fn key_id(&self) -> String {
        hex(&self.id)
    }

    /// Base64 (standard, padded) of the encoded key, as bundles and signer-set files carry it.
    pub fn to_base64(&self) -> String {
        B64.encode(self.as_bytes())
    }

    /// Whether `signature` is this key's signature over `message`: Ed25519 `verify_strict`,
    /// or FIPS 204 ML-DSA.Verify (pure) with the empty context. The one verification rule for
    /// every bundle signature; a signature of another algorithm's length never verifies.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifies_with_context(message, &[], signature)
    }

    /// [`PublicKey::verifies`] with a FIPS 204 context string, by the same key decoding and
    /// verification code. Bundles always use the empty context; this exists so that
    /// published ML-DSA vectors (which carry contexts) test exactly that code. Ed25519 (pure,
    /// RFC 8032) has no context: a non-empty one never verifies.
    pub fn verifies_with_context(&self, message: &[u8], context: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Ed25519 { point, .. } => {
                context.is_empty()
                    && ed25519_dalek::Signature::from_slice(signature)
                        .is_ok_and(|sig| point.verify_strict(message, &sig).is_ok())
            }
            Material::MlDsa65(k) => ml_dsa_verify(&k.key, message, context, signature),
            Material::MlDsa87(k) => ml_dsa_verify(&k.key, message, context, signature),
        }
    }

    #[cfg(feature = "signing")]
    pub(crate) fn ed25519_key(&self) -> Option<&VerifyingKey> {
        match &self.material {
            Material::Ed25519 { point, .. } => Some(point),
            _ => None,
        }
    }
}

fn ml_dsa_key<P: ml_dsa::MlDsaParams>(bytes: &[u8]) -> Result<MlDsaKey<P>, KeyError> {
    // The length was checked against the algorithm; every string of it decodes (each 10-bit
    // t1 coefficient is valid), so decoding is a bijection and the encoding is the identity.
    let enc =
        ml_dsa::EncodedVerifyingKey::<P>::try_from(bytes).map_err(|_| KeyError::Encoding {
            detail: "ML-DSA public key length".into(),
        })?;
    Ok(MlDsaKey {
        encoded: bytes.into(),
        key: ml_dsa::VerifyingKey::<P>::decode(&enc),
    })
}

fn ml_dsa_verify<P: ml_dsa::MlDsaParams>(
    key: &ml_dsa::VerifyingKey<P>,
    message: &[u8],
    context: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(enc) = ml_dsa::EncodedSignature::<P>::try_from(signature) else {
        return false;
    };
    ml_dsa::Signature::<P>::decode(&enc)
        .is_some_and(|sig| key.verify_with_context(message, context, &sig))
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.algorithm() {
            Algorithm::Ed25519 => write!(f, "PublicKey({})", self.to_base64()),
            a => write!(f, "PublicKey({a} {})", self.key_id()),
        }
    }
}

/// Ed25519 keys show as their base64 (v1's form); larger keys by algorithm and key id.
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.algorithm() {
            Algorithm::Ed25519 => f.write_str(&self.to_base64()),
            a => write!(f, "{a}:{}", self.key_id()),
        }
    }
}

/// The shape every signer set must have, whether its keys are known (device state, files) or
/// only named by hash (a v2 payload): at least one group, one group per algorithm, no key in
/// two groups or twice in one, thresholds in `1..=` the group's keys, and at most `limit`
/// keys in all. `groups` gives each group's algorithm, key hashes and threshold.
pub(crate) fn check_shape<'a>(
    groups: impl IntoIterator<Item = (Algorithm, &'a [[u8; 32]], u32)>,
    limit: usize,
) -> Result<(), KeyError> {
    let mut seen_algorithms: Vec<Algorithm> = Vec::new();
    let mut seen_keys: Vec<([u8; 32], Algorithm)> = Vec::new();
    for (algorithm, keys, threshold) in groups {
        if seen_algorithms.contains(&algorithm) {
            return Err(KeyError::DuplicateGroup { algorithm });
        }
        seen_algorithms.push(algorithm);
        let total = seen_keys.len() + keys.len();
        if total > limit {
            return Err(KeyError::TooManyKeys {
                count: total,
                limit,
            });
        }
        for (index, key) in keys.iter().enumerate() {
            if let Some(first) = keys[..index].iter().position(|k| k == key) {
                return Err(KeyError::DuplicateKey { index, first });
            }
            if let Some((_, other)) = seen_keys.iter().find(|(k, _)| k == key) {
                return Err(KeyError::KeyInTwoGroups {
                    sha256: *key,
                    first: *other,
                    second: algorithm,
                });
            }
        }
        seen_keys.extend(keys.iter().map(|k| (*k, algorithm)));
        if threshold == 0 || threshold as usize > keys.len() {
            return Err(KeyError::Threshold {
                threshold,
                distinct_keys: keys.len(),
            });
        }
    }
    if seen_algorithms.is_empty() {
        return Err(KeyError::NoGroups);
    }
    Ok(())
}

/// Keys of one algorithm and how many of them must sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerGroup {
    algorithm: Algorithm,
    keys: Vec<PublicKey>,
    threshold: u32,
}

impl SignerGroup {
    /// Builds a group, checking that every key is of `algorithm`, none is listed twice, and
    /// the threshold lies in `1..=` the number of keys.
    ///
    /// # Errors
    ///
    /// [`KeyError::AlgorithmMismatch`], or the [`KeyError`] of [`SignerSet::from_groups`]
    /// naming the key or threshold at fault.
    pub fn new(
        algorithm: Algorithm,
        keys: Vec<PublicKey>,
        threshold: u32,
    ) -> Result<Self, KeyError> {
        Self::new_within(algorithm, keys, threshold, MAX_SIGNER_KEYS)
    }

    /// [`SignerGroup::new`] under a device's own key limit (`Limits::max_signer_keys`).
    pub(crate) fn new_within(
        algorithm: Algorithm,
        keys: Vec<PublicKey>,
        threshold: u32,
        limit: usize,
    ) -> Result<Self, KeyError> {
        for (index, key) in keys.iter().enumerate() {
            if key.algorithm() != algorithm {
                return Err(KeyError::AlgorithmMismatch {
                    index,
                    group: algorithm,
                    key: key.algorithm(),
                });
            }
        }
        let ids: Vec<[u8; 32]> = keys.iter().map(|k| *k.sha256()).collect();
        check_shape([(algorithm, &ids[..], threshold)], limit)?;
        Ok(Self {
            algorithm,
            keys,
            threshold,
        })
    }

    /// The group's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The keys, in the order given (each once).
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// How many distinct keys of the group must sign.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    fn sorted_keys(&self) -> Vec<&PublicKey> {
        let mut k: Vec<&PublicKey> = self.keys.iter().collect();
        k.sort();
        k
    }
}

/// Who may sign the next bundle: one or more [`SignerGroup`]s, **all** of which must reach
/// their thresholds.
///
/// A single Ed25519 group is format v1's signer set exactly. A hybrid set is an Ed25519 group
/// and an ML-DSA group, so a forgery needs both schemes broken (or both thresholds of keys
/// stolen). At most one group per algorithm, so one secret can never count in two groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSet {
    groups: Vec<SignerGroup>,
}

impl SignerSet {
    /// A set of one group: `keys` (all of one algorithm) and `threshold`. With Ed25519 keys,
    /// format v1's signer set.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the key or the threshold at fault.
    pub fn new(keys: Vec<PublicKey>, threshold: u32) -> Result<Self, KeyError> {
        let algorithm = keys
            .first()
            .map_or(Algorithm::Ed25519, PublicKey::algorithm);
        Self::from_groups(alloc::vec![SignerGroup::new(algorithm, keys, threshold)?])
    }

    /// A set of several groups, all required.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoGroups`], [`KeyError::DuplicateGroup`] for two groups of one
    /// algorithm, [`KeyError::TooManyKeys`] beyond [`MAX_SIGNER_KEYS`] in all.
    pub fn from_groups(groups: Vec<SignerGroup>) -> Result<Self, KeyError> {
        Self::from_groups_within(groups, MAX_SIGNER_KEYS)
    }

    pub(crate) fn from_groups_within(
        groups: Vec<SignerGroup>,
        limit: usize,
    ) -> Result<Self, KeyError> {
        let ids: Vec<Vec<[u8; 32]>> = groups
            .iter()
            .map(|g| g.keys.iter().map(|k| *k.sha256()).collect())
            .collect();
        check_shape(
            groups
                .iter()
                .zip(&ids)
                .map(|(g, ids)| (g.algorithm, &ids[..], g.threshold)),
            limit,
        )?;
        Ok(Self { groups })
    }

    /// No group: nothing known, for callers that have no current set to reuse keys from.
    pub(crate) fn none() -> Self {
        Self { groups: Vec::new() }
    }

    /// Decodes v1's inline form: base64 Ed25519 keys and one threshold. `known` keys
    /// (already checked) are reused when a listed key equals one: identity is the encoding,
    /// so the result is the same, and the decompression and torsion check (a quarter of a
    /// bundle's verification time) are saved for every key the device already trusts.
    pub(crate) fn from_v1_base64(
        keys: &[String],
        threshold: u32,
        limit: usize,
        known: &Self,
    ) -> Result<Self, KeyError> {
        Self::group_from_base64(Algorithm::Ed25519, keys, threshold, limit, 0, known)
            .and_then(|g| Self::from_groups_within(alloc::vec![g], limit))
    }

    /// One group from base64 keys, each checked as `algorithm`. `first_index` numbers the keys
    /// across a file's groups, for errors.
    fn group_from_base64(
        algorithm: Algorithm,
        keys: &[String],
        threshold: u32,
        limit: usize,
        first_index: usize,
        known: &Self,
    ) -> Result<SignerGroup, KeyError> {
        if keys.len() > limit {
            return Err(KeyError::TooManyKeys {
                count: keys.len(),
                limit,
            });
        }
        let mut out = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let index = Some(first_index + i);
            // Bounded before decoding: base64 of the algorithm's length, and no longer.
            if k.len() > algorithm.public_key_len().div_ceil(3) * 4 {
                return Err(KeyError::WrongLength {
                    algorithm,
                    expected: algorithm.public_key_len(),
                    actual: k.len() / 4 * 3,
                    index,
                });
            }
            let raw = B64.decode(k).map_err(|_| KeyError::Malformed { index })?;
            let key = match known.find(algorithm, &raw) {
                Some(key) => key.clone(),
                None => PublicKey::checked(algorithm, &raw, index)?,
            };
            out.push(key);
        }
        let ids: Vec<[u8; 32]> = out.iter().map(|k| *k.sha256()).collect();
        check_shape([(algorithm, &ids[..], threshold)], limit)?;
        Ok(SignerGroup {
            algorithm,
            keys: out,
            threshold,
        })
    }

    /// The key of `algorithm` with this encoding, if the set has it.
    pub(crate) fn find(&self, algorithm: Algorithm, encoded: &[u8]) -> Option<&PublicKey> {
        self.keys()
            .find(|k| k.algorithm() == algorithm && k.as_bytes() == encoded)
    }

    /// Reads a signer-set file, in either form:
    ///
    /// - v1: `{"threshold": N, "keys": ["<base64 of a raw 32-byte Ed25519 key>", ...]}`,
    ///   exactly the `signers` object of a v1 payload;
    /// - groups: `{"groups": [{"algorithm": "ed25519" | "ml-dsa-65" | "ml-dsa-87",
    ///   "threshold": N, "keys": ["<base64 of the encoded key>", ...]}, ...]}`.
    ///
    /// Every key and threshold is checked as in a payload. The one reader for the CLI's
    /// `--signers`, the trust store's floor record, applications and tests.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] for JSON that is neither form; otherwise the [`KeyError`]
    /// naming the key, group or threshold at fault.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyError> {
        let w: super::wire::SignerFileWire =
            serde_json::from_slice(bytes).map_err(|e| KeyError::Encoding {
                detail: e.to_string(),
            })?;
        Self::from_file_wire(&w, MAX_SIGNER_KEYS)
    }

    pub(crate) fn from_file_wire(
        w: &super::wire::SignerFileWire,
        limit: usize,
    ) -> Result<Self, KeyError> {
        let none = Self::none();
        match (&w.threshold, &w.keys, &w.groups) {
            (Some(threshold), Some(keys), None) => {
                Self::from_v1_base64(keys, *threshold, limit, &none)
            }
            (None, None, Some(groups)) => {
                let mut out = Vec::with_capacity(groups.len());
                let mut first_index = 0;
                for g in groups {
                    let algorithm = Algorithm::from_label(&g.algorithm).ok_or_else(|| {
                        KeyError::UnknownAlgorithm {
                            label: g.algorithm.clone(),
                        }
                    })?;
                    out.push(Self::group_from_base64(
                        algorithm,
                        &g.keys,
                        g.threshold,
                        limit,
                        first_index,
                        &none,
                    )?);
                    first_index += g.keys.len();
                }
                Self::from_groups_within(out, limit)
            }
            _ => Err(KeyError::Encoding {
                detail: "a signer set is either {\"threshold\", \"keys\"} (v1) or {\"groups\"}"
                    .into(),
            }),
        }
    }

    pub(crate) fn to_file_wire(&self) -> super::wire::SignerFileWire {
        match self.v1_group() {
            Some(g) => super::wire::SignerFileWire {
                threshold: Some(g.threshold),
                keys: Some(g.keys.iter().map(PublicKey::to_base64).collect()),
                groups: None,
            },
            None => super::wire::SignerFileWire {
                threshold: None,
                keys: None,
                groups: Some(
                    self.groups
                        .iter()
                        .map(|g| super::wire::GroupFileWire {
                            algorithm: g.algorithm.as_str().into(),
                            threshold: g.threshold,
                            keys: g.keys.iter().map(PublicKey::to_base64).collect(),
                        })
                        .collect(),
                ),
            },
        }
    }

    /// The signer-set file [`SignerSet::from_json`] reads: the v1 form for a single Ed25519
    /// group (so v1 tools read it), the groups form otherwise; pretty-printed and
    /// newline-terminated.
    pub fn to_json(&self) -> String {
        // Serializing a plain struct to a String cannot fail.
        serde_json::to_string_pretty(&self.to_file_wire()).unwrap_or_default() + "\n"
    }

    /// The groups, in the order given.
    pub fn groups(&self) -> &[SignerGroup] {
        &self.groups
    }

    /// The group of `algorithm`, if the set has one.
    pub fn group(&self, algorithm: Algorithm) -> Option<&SignerGroup> {
        self.groups.iter().find(|g| g.algorithm == algorithm)
    }

    /// Every key of every group.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.groups.iter().flat_map(|g| g.keys.iter())
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.keys().any(|k| k == key)
    }

    /// The single Ed25519 group, when the set is one (format v1's kind of set).
    pub fn v1_group(&self) -> Option<&SignerGroup> {
        match &self.groups[..] {
            [g] if g.algorithm.in_v1() => Some(g),
            _ => None,
        }
    }

    /// Whether two sets authorize the same thing: the same groups, with the same keys and
    /// thresholds, in any order.
    pub fn same_as(&self, other: &Self) -> bool {
        self.groups.len() == other.groups.len()
            && self.groups.iter().all(|g| {
                other.group(g.algorithm).is_some_and(|o| {
                    o.threshold == g.threshold && o.sorted_keys() == g.sorted_keys()
                })
            })
    }
}

//! Ed25519 public keys and the signer sets that authorize bundles.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::bundle::error::KeyError;
use crate::bundle::limits::MAX_SIGNER_KEYS;
use crate::hex::hex;

/// A validated Ed25519 public key: on the curve, canonically encoded, not of small order, and
/// in the prime-order subgroup (no torsion component).
///
/// These checks make "two keys" mean "two signers": each point has one accepted encoding, and
/// no secret signs for two accepted points. The point is decompressed once, when the key is
/// loaded, not on every verification.
#[derive(Clone, Copy)]
pub struct PublicKey {
    raw: [u8; 32],
    point: VerifyingKey,
}

// Identity is the encoding: canonical encodings are checked at construction, so equal bytes
// mean the same key and different bytes mean different keys.
impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl Eq for PublicKey {}
impl core::hash::Hash for PublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}

impl PublicKey {
    /// Checks a raw 32-byte key.
    ///
    /// # Errors
    ///
    /// [`KeyError::Malformed`] off the curve, [`KeyError::NonCanonical`] for a second encoding
    /// of a point (it would count as a second key), [`KeyError::Weak`] for a small-order key
    /// (under which forged signatures verify with plain `verify`), [`KeyError::Torsion`] for
    /// a key with a small-order component.
    ///
    /// # Security
    ///
    /// A key `A' = A + T`, with `T` of order 8, passes the small-order and encoding checks, yet
    /// whoever holds the secret of `A` signs for `A'` too: `verify_strict` checks
    /// `[s]B = R + [k]A'`, which holds for `A`'s signature whenever 8 divides `k`, so one
    /// nonce in eight works. With both in a signer set, one secret would cast two votes (the
    /// class of tough's CVE-2020-15093: count distinct *signers*, not distinct byte strings).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        Self::checked(bytes, None)
    }

    fn checked(bytes: &[u8], index: Option<usize>) -> Result<Self, KeyError> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::Malformed { index })?;
        let vk = VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::Malformed { index })?;
        // VerifyingKey keeps the bytes it was given; only re-encoding the decompressed point
        // reveals a y >= p or a sign bit set on x = 0.
        if vk.to_edwards().compress().to_bytes() != raw {
            return Err(KeyError::NonCanonical { index });
        }
        if vk.is_weak() {
            return Err(KeyError::Weak { index });
        }
        if !vk.to_edwards().is_torsion_free() {
            return Err(KeyError::Torsion { index });
        }
        Ok(Self { raw, point: vk })
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.raw
    }

    /// The key id: lowercase hex SHA-256 of the raw 32-byte key. Only a hint in envelopes.
    pub fn key_id(&self) -> String {
        hex(&Sha256::digest(self.raw))
    }

    /// Base64 (standard, padded) of the raw key, as bundles carry it.
    pub fn to_base64(&self) -> String {
        B64.encode(self.raw)
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.point
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// Bounds the work of loading a set before any key is decoded.
fn check_count(count: usize, limit: usize) -> Result<(), KeyError> {
    if count > limit {
        return Err(KeyError::TooManyKeys { count, limit });
    }
    Ok(())
}

/// Who may sign the next bundle: Ed25519 keys and how many of them must sign.
///
/// Every key is listed once (a set naming a key twice is refused, so that no implementation
/// can count it twice), and the threshold lies in `1..=` the number of keys, so that no set is
/// satisfiable by nobody or unsatisfiable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSet {
    keys: Vec<PublicKey>,
    threshold: u32,
}

impl SignerSet {
    /// Builds a set, checking every key and the threshold.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the key or the threshold at fault.
    pub fn new(keys: Vec<PublicKey>, threshold: u32) -> Result<Self, KeyError> {
        Self::with_limit(keys, threshold, MAX_SIGNER_KEYS)
    }

    pub(crate) fn with_limit(
        keys: Vec<PublicKey>,
        threshold: u32,
        limit: usize,
    ) -> Result<Self, KeyError> {
        check_count(keys.len(), limit)?;
        for (index, key) in keys.iter().enumerate() {
            if let Some(first) = keys[..index].iter().position(|k| k == key) {
                return Err(KeyError::DuplicateKey { index, first });
            }
        }
        if threshold == 0 || threshold as usize > keys.len() {
            return Err(KeyError::Threshold {
                threshold,
                distinct_keys: keys.len(),
            });
        }
        Ok(Self { keys, threshold })
    }

    /// Decodes base64 keys (as in a payload), checking each.
    pub(crate) fn from_base64(
        keys: &[String],
        threshold: u32,
        limit: usize,
    ) -> Result<Self, KeyError> {
        Self::from_base64_known(keys, threshold, limit, &[])
    }

    /// [`SignerSet::from_base64`], reusing `known` keys (already checked) whose bytes a listed
    /// key equals. Identity is the encoding, so the result is the same; what is saved is the
    /// decompression and the torsion check (a full scalar multiplication, a quarter of a
    /// bundle's verification time) for every key the device already trusts: in a bundle that
    /// does not rotate, all of them.
    pub(crate) fn from_base64_known(
        keys: &[String],
        threshold: u32,
        limit: usize,
        known: &[PublicKey],
    ) -> Result<Self, KeyError> {
        check_count(keys.len(), limit)?;
        let mut out = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let raw = B64
                .decode(k)
                .map_err(|_| KeyError::Malformed { index: Some(i) })?;
            let key = match known.iter().find(|key| key.raw[..] == raw[..]) {
                Some(key) => *key,
                None => PublicKey::checked(&raw, Some(i))?,
            };
            out.push(key);
        }
        Self::with_limit(out, threshold, limit)
    }

    /// Reads a signer-set file: exactly the `signers` object of a bundle payload,
    /// `{"threshold": N, "keys": ["<base64 of the raw 32-byte key>", ...]}`, with every key
    /// and the threshold checked as in a payload. The one reader for the CLI's `--signers`,
    /// applications and tests.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] for JSON that is not that object; otherwise the [`KeyError`]
    /// naming the key or threshold at fault.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyError> {
        let w: super::wire::SignersWire =
            serde_json::from_slice(bytes).map_err(|e| KeyError::Encoding {
                detail: e.to_string(),
            })?;
        Self::from_base64(&w.keys, w.threshold, MAX_SIGNER_KEYS)
    }

    /// The signer-set file [`SignerSet::from_json`] reads: pretty-printed, newline-terminated.
    pub fn to_json(&self) -> String {
        let w = super::wire::SignersWire {
            threshold: self.threshold,
            keys: self.keys.iter().map(PublicKey::to_base64).collect(),
        };
        // Serializing a plain struct to a String cannot fail.
        serde_json::to_string_pretty(&w).unwrap_or_default() + "\n"
    }

    /// The keys, in the order given (each once).
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// How many of the keys must sign.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.keys.contains(key)
    }

    /// Whether two sets authorize the same thing: the same keys, in any order, and the same
    /// threshold.
    pub fn same_as(&self, other: &Self) -> bool {
        let sorted = |s: &Self| {
            let mut k = s.keys.clone();
            k.sort();
            k
        };
        self.threshold == other.threshold && sorted(self) == sorted(other)
    }
}

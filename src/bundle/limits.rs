//! Size and count limits for signed root bundles, and the policy knobs a device may set.
//!
//! Every limit is checked before the part it bounds is decoded, so hostile input costs at most
//! these many bytes of work.

use core::time::Duration;

use crate::bundle::dsse::{PAYLOAD_TYPE, PAYLOAD_TYPE_V2};
use crate::bundle::error::Limit;
use crate::bundle::keys::Algorithm;

/// AWS KMS signs Ed25519 (`ED25519_SHA_512`) and ML-DSA (`ML_DSA_SHAKE_256`) with
/// `MessageType` `RAW` only over messages of at most 4096 bytes; the prehash and external-mu
/// variants sign something else. The PAE of every bundle within the default limits fits this,
/// in both formats: keys and signatures are outside it.
pub const KMS_RAW_MESSAGE_LIMIT: usize = 4096;

const fn decimal_digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

// Both formats' payload types have one length, so one payload limit serves both.
const _: () = assert!(PAYLOAD_TYPE.len() == PAYLOAD_TYPE_V2.len());

/// The largest payload whose PAE fits [`KMS_RAW_MESSAGE_LIMIT`]:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with LEN(body) at most 4 digits.
pub const MAX_PAYLOAD_BYTES: usize = KMS_RAW_MESSAGE_LIMIT
    - ("DSSEv1".len()
        + 1
        + decimal_digits(PAYLOAD_TYPE.len())
        + 1
        + PAYLOAD_TYPE.len()
        + 1
        + 4
        + 1);

/// Roots per bundle. AWS IoT needs 5 (Amazon Root CA 1-4 and Starfield Services G2), a fleet
/// may add its own private CAs and the announced replacements; 16 leaves room while keeping
/// a bundle with the longest names and the largest signer set inside the PAE limit.
pub const MAX_ROOTS: usize = 16;

/// Signatures per algorithm in an envelope: a rotation needs a threshold of the old set and of
/// the new one, each at most [`MAX_SIGNER_KEYS`]. Counted by signature length, before any
/// decoding; a v2 entry costs at most one verification (its `keyid` binds it to one key), a
/// v1 entry at most [`MAX_SIGNER_KEYS`].
pub const MAX_SIGNATURES: usize = 2 * MAX_SIGNER_KEYS;

/// Keys in a signer set, all groups together. Eight covers a hybrid 2-of-3 + 2-of-3 quorum
/// with spares, or an m-of-n single group; more would let one bundle demand dozens of
/// signature checks, and a v2 payload names each key in 67 bytes of the PAE budget.
pub const MAX_SIGNER_KEYS: usize = 8;

/// Bytes of one encoded signer key: ML-DSA-87's 2,592, the largest algorithm a signer group
/// may name.
pub const MAX_SIGNER_KEY_BYTES: usize = Algorithm::MlDsa87.public_key_len();

/// Bytes of one signature: ML-DSA-87's 4,627. Every accepted length is one algorithm's
/// exact length, checked before decoding.
pub const MAX_SIGNATURE_BYTES: usize = Algorithm::MlDsa87.signature_len();

/// Bytes of one DER certificate. The largest Amazon root (CA 2, RSA 4096) is 1,349 bytes; an
/// RSA 8192 root with the usual extensions stays under 3 KiB. 8 KiB refuses nothing real.
pub const MAX_CERTIFICATE_BYTES: usize = 8 * 1024;

/// Bytes of a whole bundle file at every other limit, in base64: the payload (5.5 KiB),
/// [`MAX_SIGNATURES`] of each algorithm (167 KiB, 16 ML-DSA-87 signatures being 96 KiB of it),
/// [`MAX_ROOTS`] certificates of [`MAX_CERTIFICATE_BYTES`] (171 KiB) and [`MAX_SIGNER_KEYS`]
/// keys of [`MAX_SIGNER_KEY_BYTES`] (27 KiB): 370 KiB, with room for JSON punctuation,
/// `keyid`s and whitespace. Also bounds what is read from disk. A device that never sees
/// ML-DSA-87 may lower it.
pub const MAX_BUNDLE_BYTES: usize = 512 * 1024;

/// Bytes of a fleet id. Long enough for an ARN-style name, short enough for the PAE budget.
pub const MAX_FLEET_ID_BYTES: usize = 64;

/// Bytes of a root's optional display name ("Starfield Services Root Certificate Authority -
/// G2" is 50).
pub const MAX_ROOT_NAME_BYTES: usize = 64;

/// How far in the future a bundle's `issued_at` may be, against trusted time. Devices without
/// a battery-backed clock drift by minutes between syncs; an hour absorbs that, and a
/// timezone mistake, without letting a bundle dated months ahead in early.
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(60 * 60);

/// Limits a device enforces. [`Limits::default`] keeps every bundle signable by AWS KMS;
/// raise a limit only if every signer of the fleet can sign larger messages.
///
/// One field per [`Limit`](crate::bundle::Limit) a refusal can name. Start from
/// [`Limits::default`] and assign the fields to change (new limits may be added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// See [`MAX_BUNDLE_BYTES`].
    pub max_bundle_bytes: usize,
    /// See [`MAX_PAYLOAD_BYTES`].
    pub max_payload_bytes: usize,
    /// See [`MAX_SIGNATURES`].
    pub max_signatures: usize,
    /// See [`MAX_SIGNER_KEYS`].
    pub max_signer_keys: usize,
    /// See [`MAX_ROOTS`].
    pub max_roots: usize,
    /// See [`MAX_CERTIFICATE_BYTES`].
    pub max_certificate_bytes: usize,
    /// See [`MAX_FLEET_ID_BYTES`].
    pub max_fleet_id_bytes: usize,
    /// See [`MAX_ROOT_NAME_BYTES`].
    pub max_root_name_bytes: usize,
    /// See [`MAX_SIGNER_KEY_BYTES`].
    pub max_key_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bundle_bytes: MAX_BUNDLE_BYTES,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            max_signatures: MAX_SIGNATURES,
            max_signer_keys: MAX_SIGNER_KEYS,
            max_roots: MAX_ROOTS,
            max_certificate_bytes: MAX_CERTIFICATE_BYTES,
            max_fleet_id_bytes: MAX_FLEET_ID_BYTES,
            max_root_name_bytes: MAX_ROOT_NAME_BYTES,
            max_key_bytes: MAX_SIGNER_KEY_BYTES,
        }
    }
}

impl Limits {
    /// The value of the limit a refusal names: one field per [`Limit`], by an exhaustive
    /// match, so that no limit can be named without being configurable.
    pub fn of(&self, limit: Limit) -> usize {
        match limit {
            Limit::BundleBytes => self.max_bundle_bytes,
            Limit::PayloadBytes => self.max_payload_bytes,
            Limit::Signatures => self.max_signatures,
            Limit::SignerKeys => self.max_signer_keys,
            Limit::Roots => self.max_roots,
            Limit::CertificateBytes => self.max_certificate_bytes,
            Limit::FleetIdBytes => self.max_fleet_id_bytes,
            Limit::RootNameBytes => self.max_root_name_bytes,
            Limit::KeyBytes => self.max_key_bytes,
        }
    }
}

/// What a device enforces when it verifies a bundle. Start from [`Policy::default`] and
/// assign the fields to change (new knobs may be added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Size and count limits.
    pub limits: Limits,
    /// See [`DEFAULT_CLOCK_TOLERANCE`].
    pub clock_tolerance: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            clock_tolerance: DEFAULT_CLOCK_TOLERANCE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_payload_leaves_exactly_room_for_the_pae_header() {
        let header = alloc::format!(
            "DSSEv1 {} {} {} ",
            PAYLOAD_TYPE.len(),
            PAYLOAD_TYPE,
            MAX_PAYLOAD_BYTES
        );
        assert_eq!(header.len() + MAX_PAYLOAD_BYTES, KMS_RAW_MESSAGE_LIMIT);
    }
}

//! Size and count limits for signed root bundles, and the policy knobs a device may set.
//!
//! Every limit is checked before the part it bounds is decoded, so hostile input costs at most
//! these many bytes of work.

use core::time::Duration;

use crate::bundle::dsse::PAYLOAD_TYPE;
use crate::bundle::error::Limit;

/// AWS KMS signs Ed25519 (`ED25519_SHA_512`, `MessageType` `RAW`) only over messages of at
/// most 4096 bytes; the prehash variant is a different signature that a plain Ed25519
/// verifier rejects. The PAE of every bundle within the default limits fits this.
pub const KMS_RAW_MESSAGE_LIMIT: usize = 4096;

const fn decimal_digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

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

/// Signatures per envelope: a rotation needs a threshold of the old set and of the new one,
/// each at most [`MAX_SIGNER_KEYS`].
pub const MAX_SIGNATURES: usize = 2 * MAX_SIGNER_KEYS;

/// Keys in a signer set. Eight covers an m-of-n release quorum with spares; more would let
/// one bundle demand hundreds of signature checks.
pub const MAX_SIGNER_KEYS: usize = 8;

/// Bytes of one DER certificate. The largest Amazon root (CA 2, RSA 4096) is 1,349 bytes; an
/// RSA 8192 root with the usual extensions stays under 3 KiB. 8 KiB refuses nothing real.
pub const MAX_CERTIFICATE_BYTES: usize = 8 * 1024;

/// Bytes of a whole bundle file: the base64 envelope (about 5.5 KiB), signatures and
/// [`MAX_ROOTS`] certificates of [`MAX_CERTIFICATE_BYTES`] in base64 (about 175 KiB), with room
/// for JSON punctuation and whitespace. Also bounds what is read from disk.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024;

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

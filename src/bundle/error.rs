//! Why a bundle, a signer set or a key was refused.

use alloc::string::String;
use core::fmt;

use rustls_pki_types::UnixTime;

use super::keys::Algorithm;

/// Which size or count limit a bundle exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The whole bundle file, bytes.
    BundleBytes,
    /// The signed payload, bytes.
    PayloadBytes,
    /// Signatures in the envelope.
    Signatures,
    /// Keys in a signer set.
    SignerKeys,
    /// Roots (listed or attached).
    Roots,
    /// One certificate, bytes.
    CertificateBytes,
    /// The fleet id, bytes.
    FleetIdBytes,
    /// A root's display name, bytes.
    RootNameBytes,
    /// One signer key carried by a v2 bundle file, bytes.
    KeyBytes,
}

impl Limit {
    /// What the limit bounds and its unit, in the spec's words.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::BundleBytes => ("the bundle file", "bytes"),
            Self::PayloadBytes => ("the payload", "bytes"),
            Self::Signatures => ("the signature list", "entries"),
            Self::SignerKeys => ("the signer set", "keys"),
            Self::Roots => ("the root list", "entries"),
            Self::CertificateBytes => ("a certificate", "bytes"),
            Self::FleetIdBytes => ("the fleet id", "bytes"),
            Self::RootNameBytes => ("a root name", "bytes"),
            Self::KeyBytes => ("a signer key", "bytes"),
        }
    }
}

/// A certificate's SHA-256 fingerprint: the bytes, shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hex::Hex(&self.0).fmt(f)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Which part of a bundle was malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The bundle file's JSON: the file, the envelope, a signature entry's structure.
    Bundle,
    /// The envelope's `payload` member (its base64).
    EnvelopePayload,
    /// The signature entry at this index (its base64 or length).
    Signature(usize),
    /// The certificate at this index in `certificates` (its base64).
    Certificate(usize),
    /// The signed payload's JSON or one of its values.
    Payload,
    /// The payload's `issued_at`.
    IssuedAt,
    /// The payload's `expires_at`.
    ExpiresAt,
    /// A signature offered for attaching.
    AttachedSignature,
    /// A trust store's staged bundle record.
    StagedRecord,
    /// The key at this index in a v2 bundle file's `keys` (its base64), or the member itself.
    Key(usize),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bundle => f.write_str("bundle"),
            Self::EnvelopePayload => f.write_str("envelope payload"),
            Self::Signature(i) => write!(f, "signature #{i}"),
            Self::Certificate(i) => write!(f, "certificate #{i}"),
            Self::Payload => f.write_str("payload"),
            Self::IssuedAt => f.write_str("payload issued_at"),
            Self::ExpiresAt => f.write_str("payload expires_at"),
            Self::AttachedSignature => f.write_str("signature"),
            Self::StagedRecord => f.write_str("staged.json"),
            Self::Key(i) => write!(f, "key #{i}"),
        }
    }
}

/// Which signer set a threshold applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerRole {
    /// The set the device trusts now.
    Current,
    /// The set a rotating bundle installs, which must also sign it.
    New,
}

/// A signer set or key that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64, or (Ed25519) not a point on the curve.
    Malformed {
        /// Position in the set, if in a set.
        index: Option<usize>,
    },
    /// A key whose encoding is not its algorithm's length (32 bytes for Ed25519, 1,952 for
    /// ML-DSA-65, 2,592 for ML-DSA-87).
    WrongLength {
        /// The algorithm the key was read as (from the group naming it).
        algorithm: Algorithm,
        /// That algorithm's key length.
        expected: usize,
        /// The length offered.
        actual: usize,
        /// Position in the set, if in a set.
        index: Option<usize>,
    },
    /// A group's key is of another algorithm than the group.
    AlgorithmMismatch {
        /// Position in the group.
        index: usize,
        /// The group's algorithm.
        group: Algorithm,
        /// The key's algorithm.
        key: Algorithm,
    },
    /// A signer-set label names no algorithm this version knows.
    UnknownAlgorithm {
        /// The label, as written.
        label: String,
    },
    /// A signer set has no group.
    NoGroups,
    /// Two groups of one algorithm: one secret could then count in both.
    DuplicateGroup {
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// One key (by SHA-256 of its encoding) in two groups.
    KeyInTwoGroups {
        /// SHA-256 of the key's encoding.
        sha256: [u8; 32],
        /// The first group naming it.
        first: Algorithm,
        /// The second.
        second: Algorithm,
    },
    /// A small-order ("weak") key: any signature could verify under it.
    Weak {
        /// Position in the set, if in a set.
        index: Option<usize>,
    },
    /// A point encoded other than canonically: two encodings of one key would defeat
    /// counting distinct keys.
    NonCanonical {
        /// Position in the set, if in a set.
        index: Option<usize>,
    },
    /// A key with a small-order (torsion) component: not in the prime-order subgroup, so the
    /// holder of another key's secret could sign for it too.
    Torsion {
        /// Position in the set, if in a set.
        index: Option<usize>,
    },
    /// A signer set lists one key twice.
    DuplicateKey {
        /// Position of the second listing.
        index: usize,
        /// Position of the first.
        first: usize,
    },
    /// The threshold is 0 or more than the number of keys.
    Threshold {
        /// The threshold given.
        threshold: u32,
        /// Distinct keys in the set.
        distinct_keys: usize,
    },
    /// More keys than the limit.
    TooManyKeys {
        /// Keys given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A key file could not be read (PKCS#8 or SPKI PEM).
    Encoding {
        /// What was wrong.
        detail: String,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |index: &Option<usize>| {
            index
                .map(|i| alloc::format!(" (key #{i})"))
                .unwrap_or_default()
        };
        match self {
            Self::Malformed { index } => write!(f, "malformed public key{}", at(index)),
            Self::WrongLength {
                algorithm,
                expected,
                actual,
                index,
            } => write!(
                f,
                "{algorithm} public key{} is {actual} bytes; it must be {expected}",
                at(index)
            ),
            Self::AlgorithmMismatch { index, group, key } => {
                write!(f, "key #{index} is {key}, in a group of {group}")
            }
            Self::UnknownAlgorithm { label } => write!(
                f,
                "unknown algorithm {label:?} (expected \"ed25519\", \"ml-dsa-65\" or \"ml-dsa-87\")"
            ),
            Self::NoGroups => f.write_str("the signer set has no group"),
            Self::DuplicateGroup { algorithm } => {
                write!(f, "two {algorithm} groups; each algorithm has at most one")
            }
            Self::KeyInTwoGroups {
                sha256,
                first,
                second,
            } => write!(
                f,
                "key {} is in both the {first} and the {second} group",
                crate::hex::Hex(sha256)
            ),
            Self::Weak { index } => write!(f, "weak (small-order) Ed25519 public key{}", at(index)),
            Self::NonCanonical { index } => {
                write!(f, "non-canonically encoded Ed25519 public key{}", at(index))
            }
            Self::Torsion { index } => write!(
                f,
                "Ed25519 public key with a small-order (torsion) component{}",
                at(index)
            ),
            Self::DuplicateKey { index, first } => {
                write!(f, "key #{index} repeats key #{first} of the signer set")
            }
            Self::Threshold {
                threshold,
                distinct_keys,
            } => write!(
                f,
                "threshold {threshold} is outside 1..={distinct_keys} (the number of keys)"
            ),
            Self::TooManyKeys { count, limit } => {
                write!(f, "{count} keys in a signer set; the limit is {limit}")
            }
            Self::Encoding { detail } => write!(f, "cannot read key: {detail}"),
        }
    }
}

impl core::error::Error for KeyError {}

/// Why a bundle was refused.
///
/// Policy rejections name the rule and the values; signature failures stay opaque (which
/// signature failed, and why, helps only an attacker).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// A size or count limit was exceeded (checked before decoding).
    TooLarge {
        /// Which limit.
        limit: Limit,
        /// The limit's value.
        max: usize,
        /// What was offered.
        actual: usize,
    },
    /// Not a well-formed bundle: bad JSON, base64, field or value.
    Malformed {
        /// Where.
        part: Part,
        /// What was wrong.
        detail: String,
    },
    /// `payloadType` is not this crate's bundle type.
    PayloadType {
        /// What the envelope says.
        found: String,
    },
    /// The payload's schema number is not the one its payload type has.
    UnsupportedSchema {
        /// The schema number offered.
        found: u64,
    },
    /// Fewer distinct keys of a signer group produced a valid signature than its threshold.
    SignatureThreshold {
        /// Which signer set.
        role: SignerRole,
        /// Which of its groups.
        algorithm: Algorithm,
        /// The group's threshold.
        required: u32,
    },
    /// The v2 payload names a key of the next signer set that the bundle file does not carry.
    MissingKey {
        /// SHA-256 of the key's encoding, as the payload names it.
        sha256: Fingerprint,
    },
    /// The v2 bundle file carries a key the payload does not name, or one key twice.
    UnlistedKey {
        /// SHA-256 of the carried key.
        sha256: Fingerprint,
    },
    /// A carried key is not a valid key of the algorithm of the group naming it.
    KeyMaterial {
        /// SHA-256 of the key's encoding.
        sha256: Fingerprint,
        /// What was wrong with it.
        error: KeyError,
    },
    /// A signature offered for attaching does not verify under the given key.
    BadSignature,
    /// The bundle's signer set (or a key) is unusable.
    SignerSet(KeyError),
    /// The bundle is for another fleet.
    WrongFleet {
        /// This device's fleet.
        expected: String,
        /// The bundle's fleet.
        found: String,
    },
    /// Rollback: the bundle is older than the active one.
    Rollback {
        /// The bundle's version.
        offered: u64,
        /// The active version.
        current: u64,
    },
    /// The bundle's version is the largest possible: no later bundle could ever be applied,
    /// so accepting it would freeze the fleet (a fast-forward attack).
    VersionExhausted {
        /// The version offered.
        version: u64,
    },
    /// The bundle has the active version but a different payload.
    VersionConflict {
        /// The version both claim.
        version: u64,
    },
    /// The bundle expired, at trusted time.
    Expired {
        /// The bundle's `expires_at`.
        expires_at: UnixTime,
        /// max(clock, floor).
        trusted_time: UnixTime,
    },
    /// The bundle was issued further in the future than the clock tolerance allows.
    IssuedInFuture {
        /// The bundle's `issued_at`.
        issued_at: UnixTime,
        /// max(clock, floor).
        trusted_time: UnixTime,
    },
    /// `expires_at` is not after `issued_at`.
    EmptyValidity {
        /// The bundle's `issued_at`.
        issued_at: UnixTime,
        /// The bundle's `expires_at`.
        expires_at: UnixTime,
    },
    /// The payload lists no root: a bundle never empties a trust store.
    NoRoots,
    /// The payload lists a root twice.
    DuplicateRoot {
        /// Its SHA-256.
        sha256: Fingerprint,
    },
    /// The file carries a certificate the signed payload does not list.
    UnlistedCertificate {
        /// Its SHA-256.
        sha256: Fingerprint,
    },
    /// The signed payload lists a certificate the file does not carry.
    MissingCertificate {
        /// Its SHA-256.
        sha256: Fingerprint,
    },
    /// A certificate does not parse as X.509.
    BadCertificate {
        /// Its SHA-256.
        sha256: Fingerprint,
        /// What was wrong.
        detail: String,
    },
    /// A root certificate is expired at the time given.
    CertificateExpired {
        /// Its SHA-256.
        sha256: Fingerprint,
        /// Its notAfter.
        not_after: UnixTime,
        /// The time it was checked at.
        at: UnixTime,
    },
    /// A root is not a CA certificate (basicConstraints cA is not true).
    NotCa {
        /// Its SHA-256.
        sha256: Fingerprint,
    },
    /// A root's key is not one rustls can use.
    UnsupportedKey {
        /// Its SHA-256.
        sha256: Fingerprint,
    },
    /// A root carries name constraints, which bundles do not support.
    NameConstraints {
        /// Its SHA-256.
        sha256: Fingerprint,
    },
    /// Two roots share one public key.
    DuplicateKey {
        /// The second root's SHA-256.
        sha256: Fingerprint,
        /// The first root's SHA-256.
        other: Fingerprint,
    },
    /// No root is valid at trusted time.
    NoValidRoot {
        /// max(clock, floor).
        trusted_time: UnixTime,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = |t: &UnixTime| crate::timefmt::format_rfc3339(*t);
        match self {
            Self::TooLarge { limit, max, actual } => {
                let (what, unit) = limit.describe();
                write!(
                    f,
                    "too large: {what} is {actual} {unit}; the limit is {max}"
                )
            }
            Self::Malformed { part, detail } => write!(f, "malformed {part}: {detail}"),
            Self::PayloadType { found } => write!(
                f,
                "payloadType {found:?} is neither {:?} nor {:?}",
                crate::bundle::dsse::PAYLOAD_TYPE,
                crate::bundle::dsse::PAYLOAD_TYPE_V2
            ),
            Self::UnsupportedSchema { found } => write!(
                f,
                "payload schema {found} is not the schema of its payloadType (v1: 1, v2: 2)"
            ),
            Self::SignatureThreshold {
                role,
                algorithm,
                required,
            } => {
                let role = match role {
                    SignerRole::Current => "current",
                    SignerRole::New => "new",
                };
                write!(f, "signatures: fewer than {required} distinct {algorithm} keys of the {role} signer set signed")
            }
            Self::MissingKey { sha256 } => write!(
                f,
                "the payload names signer key {sha256}, which the bundle file does not carry"
            ),
            Self::UnlistedKey { sha256 } => write!(
                f,
                "the bundle file carries signer key {sha256} that the payload does not name, or twice"
            ),
            Self::KeyMaterial { sha256, error } => write!(f, "signer key {sha256}: {error}"),
            Self::BadSignature => f.write_str("the signature does not verify under the given key"),
            Self::SignerSet(e) => write!(f, "signer set: {e}"),
            Self::WrongFleet { expected, found } => write!(
                f,
                "wrong fleet: bundle is for {found:?}, device is in {expected:?}"
            ),
            Self::Rollback { offered, current } => {
                write!(f, "rollback: offered {offered}, current {current}")
            }
            Self::VersionExhausted { version } => {
                write!(
                    f,
                    "fast-forward: version {version} would leave no room for a later bundle"
                )
            }
            Self::VersionConflict { version } => write!(
                f,
                "version conflict: version {version} is active with a different payload"
            ),
            Self::Expired {
                expires_at,
                trusted_time,
            } => write!(
                f,
                "expired: expires_at {} is not after trusted time {}",
                t(expires_at),
                t(trusted_time)
            ),
            Self::IssuedInFuture {
                issued_at,
                trusted_time,
            } => write!(
                f,
                "issued in the future: issued_at {} is beyond trusted time {} plus the tolerance",
                t(issued_at),
                t(trusted_time)
            ),
            Self::EmptyValidity {
                issued_at,
                expires_at,
            } => write!(
                f,
                "expires_at {} is not after issued_at {}",
                t(expires_at),
                t(issued_at)
            ),
            Self::NoRoots => f.write_str("the payload lists no root"),
            Self::DuplicateRoot { sha256 } => write!(f, "root {sha256} is listed twice"),
            Self::UnlistedCertificate { sha256 } => write!(
                f,
                "certificate {sha256} is not listed in the signed payload"
            ),
            Self::MissingCertificate { sha256 } => {
                write!(f, "listed root {sha256} has no certificate in the bundle")
            }
            Self::BadCertificate { sha256, detail } => write!(f, "certificate {sha256}: {detail}"),
            Self::CertificateExpired {
                sha256,
                not_after,
                at,
            } => {
                write!(
                    f,
                    "certificate {sha256} expired on {} (checked at {})",
                    t(not_after),
                    t(at)
                )
            }
            Self::NotCa { sha256 } => write!(f, "certificate {sha256} is not a CA"),
            Self::UnsupportedKey { sha256 } => {
                write!(f, "certificate {sha256} has a key rustls cannot use")
            }
            Self::NameConstraints { sha256 } => {
                write!(f, "certificate {sha256} has name constraints (unsupported)")
            }
            Self::DuplicateKey { sha256, other } => {
                write!(f, "certificates {other} and {sha256} share one public key")
            }
            Self::NoValidRoot { trusted_time } => {
                write!(f, "no root is valid at trusted time {}", t(trusted_time))
            }
        }
    }
}

impl core::error::Error for BundleError {}

impl From<KeyError> for BundleError {
    fn from(e: KeyError) -> Self {
        Self::SignerSet(e)
    }
}

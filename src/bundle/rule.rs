//! The verification rules, in checking order, and which rule each refusal broke.

use super::error::{BundleError, Part, SignerRole};

/// The verification rules of `bundle::verify`, in the order they are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// 1. Size limits, before decoding; well-formed JSON and base64.
    Sizes,
    /// 2. `payloadType` is exactly this crate's.
    PayloadType,
    /// 3. Every group of the current signer set: a threshold of its distinct keys signed,
    ///    before parsing.
    CurrentSignatures,
    /// 4. The payload parses: schema, fields, keys, timestamps.
    Payload,
    /// 5. The fleet id matches.
    Fleet,
    /// 6. The version is greater than the active one (no rollback).
    Version,
    /// 7. A new signer set: its carried keys match the hashes the payload names (v2), and
    ///    every one of its groups' thresholds signed too.
    SignerRotation,
    /// 8. Not expired, not issued in the future, at trusted time.
    Time,
    /// 9. Roots: listed, carried, CA, usable key, distinct keys, one valid.
    Roots,
}

impl Rule {
    /// Every rule, in checking order.
    pub const ALL: [Rule; 9] = [
        Rule::Sizes,
        Rule::PayloadType,
        Rule::CurrentSignatures,
        Rule::Payload,
        Rule::Fleet,
        Rule::Version,
        Rule::SignerRotation,
        Rule::Time,
        Rule::Roots,
    ];

    /// A stable snake_case name ("sizes", "payload_type", "current_signatures", "payload",
    /// "fleet", "version", "signer_rotation", "time", "roots"), for reports and test data.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Sizes => "sizes",
            Rule::PayloadType => "payload_type",
            Rule::CurrentSignatures => "current_signatures",
            Rule::Payload => "payload",
            Rule::Fleet => "fleet",
            Rule::Version => "version",
            Rule::SignerRotation => "signer_rotation",
            Rule::Time => "time",
            Rule::Roots => "roots",
        }
    }

    /// A one-line description.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Sizes => "sizes within limits, before decoding; well-formed JSON and base64",
            Rule::PayloadType => "payloadType is exactly the v1 or the v2 bundle type",
            Rule::CurrentSignatures => {
                "each current signer group's threshold of distinct keys, before parsing"
            }
            Rule::Payload => {
                "payload parses: schema, no unknown or duplicate fields, valid keys and times"
            }
            Rule::Fleet => "fleet id matches this device",
            Rule::Version => "version greater than the active one (no rollback)",
            Rule::SignerRotation => {
                "a new signer set's keys match its hashes and every new group's threshold signed"
            }
            Rule::Time => "not expired and not issued in the future, at max(clock, floor)",
            Rule::Roots => {
                "roots listed and carried exactly, CA, usable keys, distinct keys, one valid"
            }
        }
    }
}

impl BundleError {
    /// The rule this refusal broke: every variant mapped by name, no catch-all, so a new
    /// refusal cannot land without its rule.
    pub fn rule(&self) -> Rule {
        match self {
            Self::TooLarge { .. } => Rule::Sizes,
            Self::Malformed { part, .. } => match part {
                Part::Bundle
                | Part::EnvelopePayload
                | Part::Signature(_)
                | Part::Certificate(_)
                | Part::AttachedSignature
                | Part::StagedRecord
                | Part::Key(_) => Rule::Sizes,
                Part::Payload | Part::IssuedAt | Part::ExpiresAt => Rule::Payload,
            },
            // Attaching is the signing side's check, by the same decoding rules as rule 1.
            Self::BadSignature => Rule::Sizes,
            Self::PayloadType { .. } => Rule::PayloadType,
            Self::SignatureThreshold {
                role: SignerRole::Current,
                ..
            } => Rule::CurrentSignatures,
            Self::SignatureThreshold {
                role: SignerRole::New,
                ..
            }
            | Self::MissingKey { .. }
            | Self::UnlistedKey { .. }
            | Self::KeyMaterial { .. } => Rule::SignerRotation,
            Self::UnsupportedSchema { .. } | Self::SignerSet(_) | Self::EmptyValidity { .. } => {
                Rule::Payload
            }
            Self::WrongFleet { .. } => Rule::Fleet,
            Self::Rollback { .. }
            | Self::VersionConflict { .. }
            | Self::VersionExhausted { .. } => Rule::Version,
            Self::Expired { .. } | Self::IssuedInFuture { .. } => Rule::Time,
            Self::NoRoots
            | Self::DuplicateRoot { .. }
            | Self::UnlistedCertificate { .. }
            | Self::MissingCertificate { .. }
            | Self::BadCertificate { .. }
            | Self::CertificateExpired { .. }
            | Self::NotCa { .. }
            | Self::UnsupportedKey { .. }
            | Self::NameConstraints { .. }
            | Self::DuplicateKey { .. }
            | Self::NoValidRoot { .. } => Rule::Roots,
        }
    }
}

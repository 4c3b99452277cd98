//! The bundle file's JSON records (docs/bundle-format.md), and the size-bounded decoding
//! every part goes through.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::dsse::EnvelopeWire;
use super::error::{BundleError, Limit, Part};
use crate::json::json_object;

/// The payload schema of format v1 (payload type [`PAYLOAD_TYPE`](super::PAYLOAD_TYPE)).
pub const SCHEMA_VERSION: u64 = 1;

/// The payload schema of format v2 (payload type [`PAYLOAD_TYPE_V2`](super::PAYLOAD_TYPE_V2)).
pub const SCHEMA_VERSION_V2: u64 = 2;

// ---------------------------------------------------------------------------------------------
// Wire format

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct BundleWire {
    pub(super) envelope: EnvelopeWire,
    /// base64 (standard, padded) DER certificates.
    pub(super) certificates: Vec<String>,
    /// Format v2 only: base64 (standard, padded) of each key the payload's signer set names.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(super) keys: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct PayloadWire {
    pub(super) schema: u64,
    pub(super) fleet: String,
    pub(super) version: u64,
    pub(super) issued_at: String,
    pub(super) expires_at: String,
    pub(super) roots: Vec<RootRefWire>,
    pub(super) signers: SignersWire,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct RootRefWire {
    pub(super) sha256: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(super) name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct SignersWire {
    pub(crate) threshold: u32,
    pub(crate) keys: Vec<String>,
}

/// A v2 payload: as v1, with the next signer set named by key hashes in groups.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct PayloadV2Wire {
    pub(super) schema: u64,
    pub(super) fleet: String,
    pub(super) version: u64,
    pub(super) issued_at: String,
    pub(super) expires_at: String,
    pub(super) roots: Vec<RootRefWire>,
    pub(super) signers: NamedSignersWire,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct NamedSignersWire {
    pub(super) groups: Vec<NamedGroupWire>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct NamedGroupWire {
    pub(super) algorithm: String,
    pub(super) threshold: u32,
    /// Lowercase hex SHA-256 of each encoded key.
    pub(super) keys: Vec<String>,
}

/// A signer-set file (and the trust store's copy of its signers): v1's `threshold` and
/// `keys`, or `groups`; which one is checked by `SignerSet::from_file_wire`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct SignerFileWire {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(crate) threshold: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(crate) keys: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(crate) groups: Option<Vec<GroupFileWire>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct GroupFileWire {
    pub(crate) algorithm: String,
    pub(crate) threshold: u32,
    /// base64 (standard, padded) of each encoded key.
    pub(crate) keys: Vec<String>,
}

json_object!(
    PayloadV2Wire => "the payload object",
    NamedSignersWire => "the signers object",
    NamedGroupWire => "a signer group object",
    SignerFileWire => "the signers object",
    GroupFileWire => "a signer group object",
    BundleWire => "the bundle object",
    PayloadWire => "the payload object",
    RootRefWire => "a root object",
    SignersWire => "the signers object",
);

pub(super) fn malformed(part: Part, detail: impl ToString) -> BundleError {
    BundleError::Malformed {
        part,
        detail: detail.to_string(),
    }
}

pub(super) fn too_large(limit: Limit, max: usize, actual: usize) -> Result<(), BundleError> {
    if actual > max {
        Err(BundleError::TooLarge { limit, max, actual })
    } else {
        Ok(())
    }
}

/// Decodes base64 after checking that the decoded size cannot exceed `max`.
pub(super) fn b64_bounded(
    text: &str,
    max: usize,
    limit: Limit,
    part: Part,
) -> Result<Vec<u8>, BundleError> {
    // Padded base64 of n bytes is 4 * ceil(n / 3) characters, the last one or two of which
    // may be '=' padding: this is the decoded size, known before decoding.
    let padding = text.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    too_large(limit, max, (text.len() / 4 * 3).saturating_sub(padding))?;
    let bytes = B64.decode(text).map_err(|e| malformed(part, e))?;
    too_large(limit, max, bytes.len())?;
    Ok(bytes)
}

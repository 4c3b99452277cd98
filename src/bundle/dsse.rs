//! DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse v1.0): the signed part of a
//! bundle, and the Pre-Authentication Encoding (PAE) its signatures cover.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::json::json_object;

/// The `payloadType` of a root bundle. Versioned: a new payload schema gets a new type, so an
/// old device refuses it by type before it parses anything.
pub const PAYLOAD_TYPE: &str = "application/vnd.aws-iot-roots.bundle.v1+json";

/// The `payloadType` of a format v2 bundle: signer groups of explicit algorithms, the next
/// set's keys named by hash and carried outside the envelope.
pub const PAYLOAD_TYPE_V2: &str = "application/vnd.aws-iot-roots.bundle.v2+json";

/// A bundle format: its payload type and schema go together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// Ed25519 only, next set's keys inline in the payload ([`PAYLOAD_TYPE`], schema 1).
    V1,
    /// Signer groups with explicit algorithms, keys by hash ([`PAYLOAD_TYPE_V2`], schema 2).
    V2,
}

impl Format {
    /// Every format this version reads.
    pub const ALL: [Format; 2] = [Format::V1, Format::V2];

    /// The envelope's `payloadType`.
    pub fn payload_type(self) -> &'static str {
        match self {
            Self::V1 => PAYLOAD_TYPE,
            Self::V2 => PAYLOAD_TYPE_V2,
        }
    }

    /// The payload's `schema`.
    pub fn schema(self) -> u64 {
        match self {
            Self::V1 => super::wire::SCHEMA_VERSION,
            Self::V2 => super::wire::SCHEMA_VERSION_V2,
        }
    }

    /// The format whose payload type this is, exactly.
    pub fn from_payload_type(payload_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.payload_type() == payload_type)
    }
}

/// DSSE's Pre-Authentication Encoding: the exact bytes a signature covers.
///
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN being ASCII decimal without
/// leading zeros. Signing these bytes, not the JSON, binds the payload type and leaves no
/// room for canonicalization bugs.
///
/// # Examples
///
/// The test vector from the DSSE specification:
///
/// ```
/// let pae = aws_iot_roots::bundle::pae("http://example.com/HelloWorld", b"hello world");
/// assert_eq!(pae, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
/// ```
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = alloc::format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The envelope as it appears in JSON. Field names are DSSE's.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct EnvelopeWire {
    #[serde(rename = "payloadType")]
    pub(crate) payload_type: alloc::string::String,
    /// base64 (standard alphabet, padded) of the payload bytes.
    pub(crate) payload: alloc::string::String,
    pub(crate) signatures: Vec<SignatureWire>,
}

/// One signature entry. `keyid` is a hint only: it selects which key to try first, and a
/// signature counts for the key it verifies under, whatever its `keyid` says.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(crate) struct SignatureWire {
    #[serde(default, skip_serializing_if = "alloc::string::String::is_empty")]
    pub(crate) keyid: alloc::string::String,
    /// base64 (standard alphabet, padded) of the 64-byte Ed25519 signature.
    pub(crate) sig: alloc::string::String,
}

json_object!(
    EnvelopeWire => "the envelope object",
    SignatureWire => "a signature object",
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from the DSSE specification (protocol.md) and its edge cases.
    #[test]
    fn pae_matches_the_dsse_specification() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        // Length is in bytes, not characters.
        assert_eq!(pae("t", "é".as_bytes()), "DSSEv1 1 t 2 é".as_bytes());
    }
}

//! The signed payload, typed: what the roots, fleet, version, dates and next signer set are.

use alloc::string::String;
use alloc::vec::Vec;

use rustls_pki_types::UnixTime;
use serde::{Deserialize, Serialize};

use super::error::{BundleError, Limit, Part};
use super::keys::{PublicKey, SignerSet};
use super::limits::Limits;
use super::wire::{malformed, too_large, PayloadWire, RootRefWire, SignersWire, SCHEMA_VERSION};
use crate::hex::hex;
use crate::json::json_object;
use crate::timefmt::{format_rfc3339, parse_rfc3339_utc};

/// A root as the signed payload lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootRef {
    /// SHA-256 of the certificate DER.
    pub sha256: [u8; 32],
    /// Optional display name.
    pub name: Option<String>,
}

/// The signed content of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// The fleet this bundle is for.
    pub fleet: String,
    /// Monotonic version; a device accepts only a greater one.
    pub version: u64,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When a device stops accepting it for application.
    pub expires_at: UnixTime,
    /// The roots, by certificate SHA-256.
    pub roots: Vec<RootRef>,
    /// Who may sign the next bundle.
    pub signers: SignerSet,
}

fn check_fleet_id(fleet: &str, limits: &Limits) -> Result<(), BundleError> {
    too_large(Limit::FleetIdBytes, limits.max_fleet_id_bytes, fleet.len())?;
    let ok = !fleet.is_empty()
        && fleet
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(malformed(
            Part::Payload,
            alloc::format!("fleet id {fleet:?}: use 1-64 of A-Z a-z 0-9 . _ - : /"),
        ))
    }
}

fn check_root_name(name: &str, limits: &Limits) -> Result<(), BundleError> {
    too_large(Limit::RootNameBytes, limits.max_root_name_bytes, name.len())?;
    if name.chars().any(char::is_control) {
        return Err(malformed(
            Part::Payload,
            alloc::format!("root name {name:?} has control characters"),
        ));
    }
    Ok(())
}

fn parse_sha256_hex(text: &str) -> Result<[u8; 32], BundleError> {
    let bad = || {
        malformed(
            Part::Payload,
            alloc::format!("root sha256 {text:?}: expected 64 lowercase hex digits"),
        )
    };
    if text.len() != 64
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Payload {
    /// Parses and checks a payload. `known` are keys the caller has already checked (the
    /// device's current signers), reused when the payload lists them.
    pub(super) fn from_json(
        bytes: &[u8],
        limits: &Limits,
        known: &[PublicKey],
    ) -> Result<Self, BundleError> {
        // The schema number is read first, so that a newer schema is reported as such rather
        // than as an unknown field.
        #[derive(Serialize, Deserialize)]
        #[serde(remote = "Self")]
        struct SchemaOnly {
            schema: u64,
        }
        json_object!(SchemaOnly => "the payload object");
        let schema: SchemaOnly =
            serde_json::from_slice(bytes).map_err(|e| malformed(Part::Payload, e))?;
        if schema.schema != SCHEMA_VERSION {
            return Err(BundleError::UnsupportedSchema {
                found: schema.schema,
            });
        }
        let w: PayloadWire =
            serde_json::from_slice(bytes).map_err(|e| malformed(Part::Payload, e))?;
        check_fleet_id(&w.fleet, limits)?;
        let issued_at =
            parse_rfc3339_utc(&w.issued_at).map_err(|e| malformed(Part::IssuedAt, e))?;
        let expires_at =
            parse_rfc3339_utc(&w.expires_at).map_err(|e| malformed(Part::ExpiresAt, e))?;
        if expires_at <= issued_at {
            return Err(BundleError::EmptyValidity {
                issued_at,
                expires_at,
            });
        }
        too_large(Limit::Roots, limits.max_roots, w.roots.len())?;
        let mut roots = Vec::with_capacity(w.roots.len());
        for r in &w.roots {
            if let Some(name) = &r.name {
                check_root_name(name, limits)?;
            }
            roots.push(RootRef {
                sha256: parse_sha256_hex(&r.sha256)?,
                name: r.name.clone(),
            });
        }
        too_large(
            Limit::SignerKeys,
            limits.max_signer_keys,
            w.signers.keys.len(),
        )?;
        // Key checks (curve, canonical encoding, small order) and the threshold range.
        let signers = SignerSet::from_base64_known(
            &w.signers.keys,
            w.signers.threshold,
            limits.max_signer_keys,
            known,
        )?;
        Ok(Self {
            fleet: w.fleet,
            version: w.version,
            issued_at,
            expires_at,
            roots,
            signers,
        })
    }

    /// The payload's JSON: deterministic (fixed field order, no whitespace), so that the same
    /// inputs always give the same bytes to sign.
    pub fn to_json(&self) -> Vec<u8> {
        let w = PayloadWire {
            schema: SCHEMA_VERSION,
            fleet: self.fleet.clone(),
            version: self.version,
            issued_at: format_rfc3339(self.issued_at),
            expires_at: format_rfc3339(self.expires_at),
            roots: self
                .roots
                .iter()
                .map(|r| RootRefWire {
                    sha256: hex(&r.sha256),
                    name: r.name.clone(),
                })
                .collect(),
            signers: SignersWire {
                threshold: self.signers.threshold(),
                keys: self
                    .signers
                    .keys()
                    .iter()
                    .map(PublicKey::to_base64)
                    .collect(),
            },
        };
        // Serializing these plain structs to a Vec cannot fail.
        serde_json::to_vec(&w).unwrap_or_default()
    }
}

//! The signed payload, typed: what the roots, fleet, version, dates and next signer set are.

use alloc::string::String;
use alloc::vec::Vec;

use rustls_pki_types::UnixTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dsse::Format;
use super::envelope::Bundle;
use super::error::{BundleError, Fingerprint, KeyError, Limit, Part};
use super::keys::{check_shape, Algorithm, PublicKey, SignerGroup, SignerSet};
use super::limits::Limits;
use super::wire::{
    malformed, too_large, NamedGroupWire, NamedSignersWire, PayloadV2Wire, PayloadWire,
    RootRefWire, SignersWire,
};
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
    /// The format it was signed in (v1: Ed25519 keys inline; v2: groups, keys by hash).
    pub format: Format,
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
    /// Who may sign the next bundle (in v2, with the key material the file carried, checked
    /// against the hashes the payload names).
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

fn parse_sha256_hex(what: &str, text: &str) -> Result<[u8; 32], BundleError> {
    let bad = || {
        malformed(
            Part::Payload,
            alloc::format!("{what} {text:?}: expected 64 lowercase hex digits"),
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

/// The next signer set as a payload states it: inline keys (v1) or key hashes (v2), whose
/// material the rotation rule checks against the file's `keys`.
#[derive(Clone, Debug)]
pub(crate) enum NextSigners {
    Inline(SignerSet),
    Named(Vec<NamedGroup>),
}

/// A v2 group as the payload names it.
#[derive(Clone, Debug)]
pub(crate) struct NamedGroup {
    algorithm: Algorithm,
    threshold: u32,
    keys: Vec<[u8; 32]>,
}

/// A parsed, checked payload whose v2 key material is not yet bound: rule 4's result.
#[derive(Clone, Debug)]
pub(crate) struct ParsedPayload {
    pub(crate) format: Format,
    pub(crate) fleet: String,
    pub(crate) version: u64,
    pub(crate) issued_at: UnixTime,
    pub(crate) expires_at: UnixTime,
    pub(crate) roots: Vec<RootRef>,
    pub(crate) signers: NextSigners,
}

/// The members both schemas share, parsed and checked.
struct Common {
    issued_at: UnixTime,
    expires_at: UnixTime,
    roots: Vec<RootRef>,
}

fn parse_common(
    fleet: &str,
    issued_at: &str,
    expires_at: &str,
    roots: &[RootRefWire],
    limits: &Limits,
) -> Result<Common, BundleError> {
    check_fleet_id(fleet, limits)?;
    let issued_at = parse_rfc3339_utc(issued_at).map_err(|e| malformed(Part::IssuedAt, e))?;
    let expires_at = parse_rfc3339_utc(expires_at).map_err(|e| malformed(Part::ExpiresAt, e))?;
    if expires_at <= issued_at {
        return Err(BundleError::EmptyValidity {
            issued_at,
            expires_at,
        });
    }
    too_large(Limit::Roots, limits.max_roots, roots.len())?;
    let mut out = Vec::with_capacity(roots.len());
    for r in roots {
        if let Some(name) = &r.name {
            check_root_name(name, limits)?;
        }
        out.push(RootRef {
            sha256: parse_sha256_hex("root sha256", &r.sha256)?,
            name: r.name.clone(),
        });
    }
    Ok(Common {
        issued_at,
        expires_at,
        roots: out,
    })
}

fn parse_named_groups(
    w: &NamedSignersWire,
    limits: &Limits,
) -> Result<Vec<NamedGroup>, BundleError> {
    let total: usize = w.groups.iter().map(|g| g.keys.len()).sum();
    too_large(Limit::SignerKeys, limits.max_signer_keys, total)?;
    let mut groups = Vec::with_capacity(w.groups.len());
    for g in &w.groups {
        let algorithm =
            Algorithm::from_label(&g.algorithm).ok_or_else(|| KeyError::UnknownAlgorithm {
                label: g.algorithm.clone(),
            })?;
        let keys = g
            .keys
            .iter()
            .map(|k| parse_sha256_hex("signer key sha256", k))
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(NamedGroup {
            algorithm,
            threshold: g.threshold,
            keys,
        });
    }
    check_shape(
        groups
            .iter()
            .map(|g| (g.algorithm, &g.keys[..], g.threshold)),
        limits.max_signer_keys,
    )?;
    Ok(groups)
}

impl ParsedPayload {
    /// Parses and checks a payload of `format` (rule 4). `known` are keys the caller has
    /// already checked (the device's current signers), reused when a v1 payload lists them.
    pub(crate) fn from_json(
        format: Option<Format>,
        bytes: &[u8],
        limits: &Limits,
        known: &SignerSet,
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
        let format = match format {
            Some(f) if f.schema() == schema.schema => f,
            _ => {
                return Err(BundleError::UnsupportedSchema {
                    found: schema.schema,
                })
            }
        };
        let (fleet, version, common, signers) = match format {
            Format::V1 => {
                let w: PayloadWire =
                    serde_json::from_slice(bytes).map_err(|e| malformed(Part::Payload, e))?;
                let c = parse_common(&w.fleet, &w.issued_at, &w.expires_at, &w.roots, limits)?;
                too_large(
                    Limit::SignerKeys,
                    limits.max_signer_keys,
                    w.signers.keys.len(),
                )?;
                // Key checks (curve, canonical encoding, small order) and the threshold range.
                let signers = SignerSet::from_v1_base64(
                    &w.signers.keys,
                    w.signers.threshold,
                    limits.max_signer_keys,
                    known,
                )?;
                (w.fleet, w.version, c, NextSigners::Inline(signers))
            }
            Format::V2 => {
                let w: PayloadV2Wire =
                    serde_json::from_slice(bytes).map_err(|e| malformed(Part::Payload, e))?;
                let c = parse_common(&w.fleet, &w.issued_at, &w.expires_at, &w.roots, limits)?;
                let groups = parse_named_groups(&w.signers, limits)?;
                (w.fleet, w.version, c, NextSigners::Named(groups))
            }
        };
        Ok(Self {
            format,
            fleet,
            version,
            issued_at: common.issued_at,
            expires_at: common.expires_at,
            roots: common.roots,
            signers,
        })
    }

    /// Binds the next signer set to its keys (part of rule 7): in v2, every key the payload
    /// names must be carried by the file, nothing else may be, and each is checked as the
    /// algorithm of the group that names it. `known` keys (the device's current signers) are
    /// reused when a carried key equals one.
    pub(crate) fn resolve(
        self,
        bundle: &Bundle,
        limits: &Limits,
        known: &SignerSet,
    ) -> Result<Payload, BundleError> {
        let signers = match self.signers {
            NextSigners::Inline(set) => set,
            NextSigners::Named(groups) => bind_keys(&groups, bundle, limits, known)?,
        };
        Ok(Payload {
            format: self.format,
            fleet: self.fleet,
            version: self.version,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            roots: self.roots,
            signers,
        })
    }
}

fn bind_keys(
    groups: &[NamedGroup],
    bundle: &Bundle,
    limits: &Limits,
    known: &SignerSet,
) -> Result<SignerSet, BundleError> {
    let carried: Vec<(&[u8], [u8; 32])> = bundle
        .carried_keys()
        .map(|k| (k, Sha256::digest(k).into()))
        .collect();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut keys = Vec::with_capacity(g.keys.len());
        for (index, id) in g.keys.iter().enumerate() {
            let Some((bytes, _)) = carried.iter().find(|(_, h)| h == id) else {
                return Err(BundleError::MissingKey {
                    sha256: Fingerprint(*id),
                });
            };
            let key = match known.find(g.algorithm, bytes) {
                Some(k) => k.clone(),
                None => PublicKey::checked(g.algorithm, bytes, Some(index)).map_err(|error| {
                    BundleError::KeyMaterial {
                        sha256: Fingerprint(*id),
                        error,
                    }
                })?,
            };
            keys.push(key);
        }
        out.push(SignerGroup::new_within(
            g.algorithm,
            keys,
            g.threshold,
            limits.max_signer_keys,
        )?);
    }
    for (i, (_, h)) in carried.iter().enumerate() {
        let named = groups.iter().any(|g| g.keys.contains(h));
        if !named || carried[..i].iter().any(|(_, e)| e == h) {
            return Err(BundleError::UnlistedKey {
                sha256: Fingerprint(*h),
            });
        }
    }
    Ok(SignerSet::from_groups_within(out, limits.max_signer_keys)?)
}

impl Payload {
    /// The payload's JSON in its format: deterministic (fixed field order, no whitespace), so
    /// that the same inputs always give the same bytes to sign.
    /// A set format v1 cannot express (anything but one Ed25519 group) is written in v2's
    /// schema whatever `format` says; [`BundleBuilder`](super::BundleBuilder) never pairs them.
    pub fn to_json(&self) -> Vec<u8> {
        let roots = self
            .roots
            .iter()
            .map(|r| RootRefWire {
                sha256: hex(&r.sha256),
                name: r.name.clone(),
            })
            .collect();
        let (issued_at, expires_at) = (
            format_rfc3339(self.issued_at),
            format_rfc3339(self.expires_at),
        );
        // Serializing these plain structs to a Vec cannot fail.
        match (self.format, self.signers.v1_group()) {
            (Format::V1, Some(g)) => serde_json::to_vec(&PayloadWire {
                schema: Format::V1.schema(),
                fleet: self.fleet.clone(),
                version: self.version,
                issued_at,
                expires_at,
                roots,
                signers: SignersWire {
                    threshold: g.threshold(),
                    keys: g.keys().iter().map(PublicKey::to_base64).collect(),
                },
            }),
            (_, _) => serde_json::to_vec(&PayloadV2Wire {
                schema: Format::V2.schema(),
                fleet: self.fleet.clone(),
                version: self.version,
                issued_at,
                expires_at,
                roots,
                signers: NamedSignersWire {
                    groups: self
                        .signers
                        .groups()
                        .iter()
                        .map(|g| NamedGroupWire {
                            algorithm: g.algorithm().as_str().into(),
                            threshold: g.threshold(),
                            keys: g.keys().iter().map(PublicKey::key_id).collect(),
                        })
                        .collect(),
                },
            }),
        }
        .unwrap_or_default()
    }
}

//! The store's files on disk: one sealed JSON record type per file, read and written only
//! here (`read_sealed`, `write_sealed`), and the names the store owns.

use std::borrow::ToOwned;
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::note::{Note, NoteKind};
use super::{
    io_err, Storage, StoreError, ATTEMPTS_FILE, DISCARDED_FILE, FLOOR_FILE, LOCK_FILE,
    MAX_STATE_FILE_BYTES, SNAPSHOT_FILE, STAGED_FILE,
};
use crate::bundle::error::KeyError;
use crate::bundle::keys::SignerSet;
use crate::bundle::wire::SignerFileWire;
use crate::json::json_object;
use crate::store::storage::{seal, unseal, write_atomic, TMP_SUFFIX};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct GenerationRecord {
    pub(super) format: u32,
    pub(super) generation: u64,
    pub(super) accepted_at: u64,
    pub(super) time_floor: u64,
    pub(super) bundle: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct FloorRecord {
    pub(super) format: u32,
    /// Floors belong to one fleet: a directory reused under another fleet does not impose
    /// the old fleet's version and signers.
    pub(super) fleet: String,
    pub(super) version: u64,
    pub(super) time_floor: u64,
    pub(super) payload_sha256: Option<String>,
    /// The signer set, in the signer-set file's forms: `threshold` and `keys` for a single
    /// Ed25519 group (what v1 firmware wrote and reads), `groups` otherwise.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(super) threshold: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(super) keys: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::present"
    )]
    pub(super) groups: Option<Vec<crate::bundle::wire::GroupFileWire>>,
}

impl FloorRecord {
    /// The signer set, by the one signer-set file rule.
    pub(super) fn signers(&self, limit: usize) -> Result<SignerSet, KeyError> {
        SignerSet::from_file_wire(
            &SignerFileWire {
                threshold: self.threshold,
                keys: self.keys.clone(),
                groups: self.groups.clone(),
            },
            limit,
        )
    }

    /// Sets the signer set's members from `set`.
    pub(super) fn with_signers(mut self, set: &SignerSet) -> Self {
        let w = set.to_file_wire();
        self.threshold = w.threshold;
        self.keys = w.keys;
        self.groups = w.groups;
        self
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct StagedRecord {
    pub(super) format: u32,
    pub(super) bundle: String,
    pub(super) payload_sha256: String,
    pub(super) version: u64,
    pub(super) attempts: u32,
    pub(super) passed: bool,
    pub(super) last_failure: Option<String>,
}

/// Why a bundle was discarded for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiscardCause {
    /// The health check ran and failed with only its anchors, as often as allowed.
    HealthCheckFailed,
    /// The device restarted during its health checks as often as allowed (a check that
    /// reboots the device, or a boot loop).
    AttemptsExhausted,
    /// The application or operator discarded it ([`TrustStore::discard`](super::TrustStore::discard)).
    Operator,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct DiscardedEntry {
    pub(super) payload_sha256: String,
    pub(super) version: u64,
    pub(super) cause: DiscardCause,
    pub(super) reason: String,
    /// Trusted time of the discard, seconds.
    pub(super) at: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct DiscardedRecord {
    pub(super) format: u32,
    pub(super) entries: Vec<DiscardedEntry>,
}

/// Health-check attempts spent per version, kept across stagings: offering two bundles in
/// turn must not restart either's count.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct AttemptsRecord {
    pub(super) format: u32,
    /// `[version, attempts]` pairs, versions ascending.
    pub(super) versions: Vec<(u64, u32)>,
}

json_object!(
    GenerationRecord => "a generation record",
    FloorRecord => "the floor record",
    StagedRecord => "the staged record",
    DiscardedEntry => "a discarded entry",
    DiscardedRecord => "the discarded record",
    AttemptsRecord => "the attempts record",
);

pub(super) fn read_sealed<T: for<'de> Deserialize<'de>>(
    s: &dyn Storage,
    name: &str,
) -> Result<Option<T>, Note> {
    let Some(bytes) = s
        .read(name, MAX_STATE_FILE_BYTES)
        .map_err(|e| Note::new(name, NoteKind::Unreadable, e.to_string()))?
    else {
        return Ok(None);
    };
    let body = unseal(&bytes).ok_or_else(|| {
        Note::new(
            name,
            NoteKind::Corrupt,
            "checksum mismatch (corrupt or torn)",
        )
    })?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| Note::new(name, NoteKind::Corrupt, e.to_string()))
}

pub(super) fn write_sealed<T: Serialize>(
    s: &dyn Storage,
    name: &str,
    value: &T,
) -> Result<(), StoreError> {
    let body = serde_json::to_vec(value).map_err(|e| StoreError::Io {
        op: "encode",
        file: name.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    write_atomic(s, name, &seal(&body)).map_err(io_err)
}

/// Whether `name` is one the store owns: state, debris or a lock. Only these are cleaned up;
/// anything else in the directory is left alone.
pub(super) fn is_store_name(name: &str) -> bool {
    name.ends_with(TMP_SUFFIX)
        || name.starts_with("gen-") && name.ends_with(".json")
        || [
            FLOOR_FILE,
            STAGED_FILE,
            DISCARDED_FILE,
            ATTEMPTS_FILE,
            LOCK_FILE,
            SNAPSHOT_FILE,
        ]
        .contains(&name)
}
